/* The results table: only the rows in view are in the DOM (fixed row height), so thousands of
 * items scroll smoothly; a click on a column's header sorts by it. Hand-written (a few lines)
 * rather than react-window, to add no dependency for one list. */
import * as React from 'react';

import { IItemFeature, thumbnailSrc } from './api';

export const ROW_HEIGHT = 26;
const OVERSCAN = 6;

export interface IColumn {
  key: string;
  title: string;
  value: (f: IItemFeature) => string | number | null;
  show?: (f: IItemFeature) => React.ReactNode;
}

export const COLUMNS: IColumn[] = [
  {
    key: 'thumbnail',
    title: '',
    value: () => null,
    show: f => {
      const src = thumbnailSrc(f);
      return src ? <img src={src} alt={`Thumbnail of ${f.id}`} loading="lazy" /> : null;
    }
  },
  { key: 'id', title: 'Item', value: f => f.id },
  {
    key: 'datetime',
    title: 'Date',
    value: f => f.properties.datetime ?? f.properties.start_datetime ?? null,
    show: f => String(f.properties.datetime ?? '').slice(0, 10)
  },
  {
    key: 'eo:cloud_cover',
    title: 'Cloud %',
    value: f => f.properties['eo:cloud_cover'] ?? null,
    show: f => {
      const v = f.properties['eo:cloud_cover'];
      return typeof v === 'number' ? v.toFixed(1) : '';
    }
  },
  { key: 'platform', title: 'Platform', value: f => f.properties.platform ?? null }
];

export interface ISort {
  key: string;
  descending: boolean;
}

/** `rows` sorted by `sort` (missing values last, whatever the direction). */
export function sortRows(rows: IItemFeature[], sort: ISort | null): IItemFeature[] {
  if (!sort) {
    return rows;
  }
  const column = COLUMNS.find(c => c.key === sort.key);
  if (!column) {
    return rows;
  }
  const sign = sort.descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    if (x === y) {
      return 0;
    }
    if (x === null) {
      return 1;
    }
    if (y === null) {
      return -1;
    }
    return x < y ? -sign : sign;
  });
}

export interface IResultsTableProps {
  rows: IItemFeature[];
  sort: ISort | null;
  onSort: (sort: ISort) => void;
  hovered: string | null;
  selected: string | null;
  onHover: (id: string | null) => void;
  onSelect: (id: string) => void;
  /** Called when the last row comes into view (to fetch the next page). */
  onEnd?: () => void;
  height: number;
}

export function ResultsTable(props: IResultsTableProps): JSX.Element {
  const [top, setTop] = React.useState(0);
  const body = React.useRef<HTMLDivElement>(null);
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const count = Math.ceil(props.height / ROW_HEIGHT) + 2 * OVERSCAN;
  const shown = props.rows.slice(first, first + count);
  React.useEffect(() => {
    if (props.onEnd && first + count >= props.rows.length && props.rows.length) {
      props.onEnd();
    }
  }, [first, props.rows.length]);
  // bring the row hovered on the map into view
  React.useEffect(() => {
    const index = props.rows.findIndex(r => r.id === props.hovered);
    const node = body.current;
    if (index < 0 || !node) {
      return;
    }
    const y = index * ROW_HEIGHT;
    if (y < node.scrollTop || y + ROW_HEIGHT > node.scrollTop + props.height) {
      node.scrollTop = Math.max(0, y - props.height / 2);
    }
  }, [props.hovered]);
  const header = (c: IColumn) => {
    const active = props.sort?.key === c.key;
    const arrow = active ? (props.sort!.descending ? ' ▼' : ' ▲') : '';
    return (
      <div
        key={c.key}
        role="columnheader"
        className={`eopde-Results-cell eopde-Results-${c.key.replace(':', '-')}`}
        aria-sort={active ? (props.sort!.descending ? 'descending' : 'ascending') : 'none'}
        onClick={() =>
          c.key !== 'thumbnail' &&
          props.onSort({ key: c.key, descending: active ? !props.sort!.descending : false })
        }
      >
        {c.title}
        {arrow}
      </div>
    );
  };
  return (
    <div className="eopde-Results" role="table" aria-rowcount={props.rows.length}>
      <div className="eopde-Results-head" role="row">
        {COLUMNS.map(header)}
      </div>
      <div
        ref={body}
        className="eopde-Results-body"
        style={{ height: props.height }}
        onScroll={e => setTop((e.target as HTMLDivElement).scrollTop)}
      >
        <div style={{ height: props.rows.length * ROW_HEIGHT, position: 'relative' }}>
          {shown.map((row, i) => (
            <div
              key={row.id}
              role="row"
              data-id={row.id}
              aria-rowindex={first + i + 1}
              aria-selected={row.id === props.selected}
              className={
                'eopde-Results-row' +
                (row.id === props.hovered ? ' eopde-mod-hovered' : '') +
                (row.id === props.selected ? ' eopde-mod-selected' : '')
              }
              style={{ top: (first + i) * ROW_HEIGHT, height: ROW_HEIGHT }}
              onMouseEnter={() => props.onHover(row.id)}
              onMouseLeave={() => props.onHover(null)}
              onClick={() => props.onSelect(row.id)}
            >
              {COLUMNS.map(c => (
                <div
                  key={c.key}
                  role="cell"
                  className={`eopde-Results-cell eopde-Results-${c.key.replace(':', '-')}`}
                  title={c.key === 'id' ? row.id : undefined}
                >
                  {c.show ? c.show(row) : String(c.value(row) ?? '')}
                </div>
              ))}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
