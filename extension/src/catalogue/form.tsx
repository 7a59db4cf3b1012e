/* The search form's pieces: the widget of one queryable (by its type), and turning the form
 * into the request `eopde.catalogue.search` takes. */
import type * as GeoJSON from 'geojson';
import * as React from 'react';

import { BBox } from '../map';
import { CatalogueKind, IQueryable, ISearchRequest } from './api';

/** Queryables the form has its own fields for (or that make no sense as a filter widget). */
export const OWN_FIELDS = new Set([
  'id',
  'geometry',
  'datetime',
  'start_datetime',
  'end_datetime',
  'collection',
  'eo:cloud_cover'
]);

export interface IFormState {
  collection: string;
  start: string;
  end: string;
  cloudCover: number;
  bboxText: string;
  aoi: GeoJSON.Geometry | null;
  /** The AOI as the WKT the user typed ('' when drawn or typed as a box). */
  wkt: string;
  /** queryable name -> value typed (numbers as [min, max] text) */
  values: { [name: string]: string };
  cql: string;
  maxItems: number;
}

export const EMPTY_FORM: IFormState = {
  collection: '',
  start: '',
  end: '',
  cloudCover: 100,
  bboxText: '',
  aoi: null,
  wkt: '',
  values: {},
  cql: '',
  maxItems: 100
};

/** "w, s, e, n" as a bbox, or a message saying what is wrong. */
export function parseBBox(text: string): BBox | string {
  const parts = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (parts.length !== 4 || parts.some(n => !Number.isFinite(n))) {
    return 'Give the box as four numbers: west, south, east, north (degrees).';
  }
  const [w, s, e, n] = parts;
  if (s >= n || s < -90 || n > 90 || w < -180 || e > 180) {
    return 'South must be below north, latitudes within ±90 and longitudes within ±180.';
  }
  return [w, s, e, n];
}

/** A drawn polygon that is an axis-aligned rectangle, as a bbox (rounded), else null. */
export function rectangleBBox(geometry: GeoJSON.Geometry): BBox | null {
  if (geometry.type !== 'Polygon' || geometry.coordinates[0].length !== 5) {
    return null;
  }
  const ring = geometry.coordinates[0];
  const xs = new Set(ring.map(p => p[0]));
  const ys = new Set(ring.map(p => p[1]));
  if (xs.size !== 2 || ys.size !== 2) {
    return null;
  }
  const r = (v: number) => Math.round(v * 1e5) / 1e5;
  return [
    r(Math.min(...xs)),
    r(Math.min(...ys)),
    r(Math.max(...xs)),
    r(Math.max(...ys))
  ];
}

function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** CQL2 text of the queryables' widgets and the free text, joined by AND. */
export function cqlOf(queryables: IQueryable[], state: IFormState): string {
  const parts: string[] = [];
  queryables.forEach(q => {
    const value = (state.values[q.name] ?? '').trim();
    if (!value) {
      return;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_:.]*$/.test(q.name) ? q.name : `"${q.name}"`;
    if (q.kind === 'number' || q.kind === 'integer') {
      const [low, high] = value.split('..').map(v => v.trim());
      if (low) {
        parts.push(`${name} >= ${Number(low)}`);
      }
      if (high) {
        parts.push(`${name} <= ${Number(high)}`);
      }
    } else if (q.kind === 'boolean') {
      parts.push(`${name} = ${value === 'true' ? 'true' : 'false'}`);
    } else if (q.kind === 'enum' && typeof q.enum?.[0] === 'number') {
      parts.push(`${name} = ${Number(value)}`);
    } else {
      parts.push(`${name} = ${quote(value)}`);
    }
  });
  if (state.cql.trim()) {
    parts.push(`(${state.cql.trim()})`);
  }
  return parts.join(' AND ');
}

/** The request of the form, or a message saying what to fix. */
export function requestOf(
  url: string | null,
  queryables: IQueryable[],
  state: IFormState,
  pageSize: number,
  kind: CatalogueKind = 'stac'
): ISearchRequest | string {
  const body: ISearchRequest = { max_items: state.maxItems, limit: pageSize };
  if (url) {
    body.url = url;
  }
  if (kind !== 'stac') {
    body.kind = kind;
  }
  if (state.collection) {
    body.collections = [state.collection];
  }
  const box = state.aoi ? rectangleBBox(state.aoi) : null;
  if (state.wkt.trim()) {
    body.intersects = state.wkt.trim();
  } else if (state.aoi && !box) {
    body.intersects = state.aoi;
  } else if (state.bboxText.trim()) {
    const parsed = parseBBox(state.bboxText);
    if (typeof parsed === 'string') {
      return parsed;
    }
    body.bbox = parsed;
  }
  if (state.start || state.end) {
    body.datetime = `${state.start || '..'}/${state.end || '..'}`;
  }
  if (state.cloudCover < 100) {
    body.cloud_cover = state.cloudCover;
  }
  const cql = cqlOf(queryables, state);
  if (cql) {
    body.filter = cql;
  }
  return body;
}

export interface IQueryableFieldProps {
  queryable: IQueryable;
  value: string;
  onChange: (value: string) => void;
}

/** One queryable's widget: a choice for enums and booleans, "min..max" for numbers, text else. */
export function QueryableField(props: IQueryableFieldProps): JSX.Element {
  const q = props.queryable;
  const id = `eopde-q-${q.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  let input: JSX.Element;
  if (q.kind === 'enum' || q.kind === 'boolean') {
    const choices = q.kind === 'boolean' ? ['true', 'false'] : (q.enum ?? []).map(String);
    input = (
      <select id={id} value={props.value} onChange={e => props.onChange(e.target.value)}>
        <option value="">any</option>
        {choices.map(c => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  } else {
    const numeric = q.kind === 'number' || q.kind === 'integer';
    const range =
      numeric && (q.minimum !== undefined || q.maximum !== undefined)
        ? `${q.minimum ?? ''}..${q.maximum ?? ''}`
        : numeric
          ? 'min..max'
          : '';
    input = (
      <input
        id={id}
        type="text"
        value={props.value}
        placeholder={range}
        onChange={e => props.onChange(e.target.value)}
      />
    );
  }
  return (
    <div className="eopde-Field" data-queryable={q.name}>
      <label htmlFor={id} title={q.description ?? q.name}>
        {q.title}
      </label>
      {input}
    </div>
  );
}
