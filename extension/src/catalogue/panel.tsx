/* The catalogue panel (left sidebar): pick a catalogue and a collection, search with a form
 * built from its queryables and an AOI drawn on the map, see footprints and a true-colour
 * preview, browse the results, insert the search as code into the notebook. */
import * as React from 'react';

import { RequestError } from '../api';
import { EoMap, MapView } from '../map';
import { LazySidePanel } from '../sidepanel';
import * as api from './api';
import {
  EMPTY_FORM,
  IFormState,
  OWN_FIELDS,
  QueryableField,
  parseBBox,
  rectangleBBox,
  requestOf
} from './form';
import { ISort, ResultsTable, sortRows } from './table';

export const PAGE_SIZE = 100;

export interface ICataloguePanelOptions {
  /** The user's catalogues (settings), and how to add one. */
  userCatalogues: () => api.ICatalogue[];
  addCatalogue: (c: api.ICatalogue) => Promise<void>;
  /** Write the search's code into the notebook (replacing the cell inserted before if asked). */
  insertCode: (code: string, replace: boolean) => Promise<void>;
  /** The AOI drawn on the active notebook's map (an Error says what is missing). */
  notebookAoi: () => Promise<api.IItemFeature['geometry']>;
  /** Hand an item to the packaging wizard's item inputs; what happened, in words. */
  useAsInput: (item: api.IItemFeature) => Promise<string>;
}

export class CataloguePanel extends LazySidePanel {
  constructor(private options: ICataloguePanelOptions) {
    super();
    this.id = 'eopde-catalogue';
    this.addClass('eopde-Catalogue');
    this.title.caption = 'EO catalogue search (eopde)';
  }

  protected renderOpened(): JSX.Element {
    return <Catalogue {...this.options} />;
  }
}

function message(error: unknown): string {
  return error instanceof RequestError || error instanceof Error
    ? error.message
    : String(error);
}

function Catalogue(props: ICataloguePanelOptions): JSX.Element {
  const [platform, setPlatform] = React.useState<api.ICatalogue[]>([]);
  const [basemap, setBasemap] = React.useState<string | null | undefined>(undefined);
  const [url, setUrl] = React.useState<string | null>(null);
  const [newUrl, setNewUrl] = React.useState('');
  const [newKind, setNewKind] = React.useState<api.CatalogueKind>('stac');
  const [notice, setNotice] = React.useState<string | null>(null);
  const [collections, setCollections] = React.useState<api.ICollection[]>([]);
  const [filterText, setFilterText] = React.useState('');
  const [queryables, setQueryables] = React.useState<api.IQueryable[]>([]);
  const [canFilter, setCanFilter] = React.useState(false);
  // a CSW/OpenSearch catalogue: what it is searched with and cannot do (no collections)
  const [notes, setNotes] = React.useState<string | null>(null);
  const [form, setForm] = React.useState<IFormState>(EMPTY_FORM);
  const [rows, setRows] = React.useState<api.IItemFeature[]>([]);
  const [last, setLast] = React.useState<api.ISearchPage | null>(null);
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const [hovered, setHovered] = React.useState<string | null>(null);
  const [selected, setSelected] = React.useState<string | null>(null);
  const [sort, setSort] = React.useState<ISort | null>(null);
  const [replace, setReplace] = React.useState(true);
  const [inserted, setInserted] = React.useState<string | null>(null);
  // what "Use as input" did with the item it names (shown while that item is selected)
  const [handed, setHanded] = React.useState<{ id: string; text: string; failed: boolean } |
    null>(null);
  const map = React.useRef<EoMap | null>(null);
  const loadingMore = React.useRef(false);
  const set = (change: Partial<IFormState>) => setForm(f => ({ ...f, ...change }));
  const all = [...platform, ...props.userCatalogues()];
  const kindOf = (u: string | null): api.CatalogueKind =>
    all.find(c => c.url === u)?.kind ?? 'stac';
  const kind = kindOf(url);

  React.useEffect(() => {
    api
      .catalogues()
      .then(answer => {
        setPlatform(answer.catalogues);
        setBasemap(answer.basemap);
        setUrl(answer.catalogues[0]?.url ?? props.userCatalogues()[0]?.url ?? null);
      })
      .catch(e => {
        setBasemap(null);
        setError(message(e));
      });
  }, []);

  // the catalogue's collections
  React.useEffect(() => {
    if (!url) {
      return;
    }
    setCollections([]);
    setCanFilter(false);
    setNotes(null);
    set({ collection: '', values: {} });
    let current = true; // an answer for a catalogue no longer picked is dropped
    api
      .collections(url, kindOf(url))
      .then(answer => {
        if (!current) {
          return;
        }
        setCollections(answer.collections);
        setCanFilter(!!answer.features.filter);
        setNotes(answer.notes ?? null);
        if (answer.collections.length === 1) {
          set({ collection: answer.collections[0].id });
        }
      })
      .catch(e => current && setError(message(e)));
    return () => {
      current = false;
    };
  }, [url]);

  // the queryables of the chosen collection (or of the whole catalogue)
  React.useEffect(() => {
    if (!url) {
      return;
    }
    let current = true;
    api
      .queryables(url, form.collection || null, kindOf(url))
      .then(answer => current && setQueryables(answer.queryables))
      .catch(() => current && setQueryables([]));
    return () => {
      current = false;
    };
  }, [url, form.collection]);

  const show = (features: api.IItemFeature[], fit: boolean) => {
    map.current?.setFootprints(
      { type: 'FeatureCollection', features },
      {
        onHover: setHovered,
        onSelect: id => select(id, features),
        label: f => `${f.id}\n${String(f.properties?.datetime ?? '').slice(0, 10)}`
      },
      fit
    );
  };

  const select = (id: string, among: api.IItemFeature[] = rows) => {
    setSelected(id);
    const item = among.find(r => r.id === id);
    map.current?.select(id);
    map.current?.setPreview(item?.preview ?? null, item?.bbox);
  };

  const runSearch = async () => {
    const body = requestOf(url, queryables, form, PAGE_SIZE, kind);
    if (typeof body === 'string') {
      setError(body);
      return;
    }
    setBusy(true);
    setError(null);
    setSelected(null);
    map.current?.setPreview(null);
    try {
      const answer = await api.search(body);
      setLast(answer);
      setRows(answer.features);
      show(answer.features, true);
    } catch (e) {
      setError(message(e));
      setRows([]);
      setLast(null);
      show([], false);
    } finally {
      setBusy(false);
    }
  };

  const loadMore = async () => {
    if (!last || last.next === null || loadingMore.current) {
      return;
    }
    loadingMore.current = true;
    try {
      const answer = await api.page(last.search, last.next, PAGE_SIZE);
      const all = [...rows, ...answer.features];
      setLast(answer);
      setRows(all);
      show(all, false);
    } catch (e) {
      setError(message(e));
    } finally {
      loadingMore.current = false;
    }
  };

  const onAoi = (geometry: api.IItemFeature['geometry'] | null) => {
    const box = geometry ? rectangleBBox(geometry) : null;
    set({ aoi: geometry, bboxText: box ? box.join(', ') : '', wkt: '' });
  };

  const useWkt = async () => {
    setNotice(null);
    try {
      const read = await api.aoi(form.wkt);
      map.current?.setAoi(read.geometry, true);
      set({ aoi: read.geometry, bboxText: '' });
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  };

  const fromNotebook = async () => {
    setNotice(null);
    try {
      const geometry = await props.notebookAoi();
      map.current?.setAoi(geometry, true);
      onAoi(geometry);
      setNotice("The area drawn on the notebook's map.");
    } catch (e) {
      setNotice(message(e));
    }
  };

  const typedBBox = (text: string) => {
    set({ bboxText: text, aoi: null, wkt: '' });
    const box = parseBBox(text);
    if (typeof box !== 'string') {
      const [w, s, e, n] = box;
      map.current?.setAoi(
        { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
        true
      );
    } else if (!text.trim()) {
      map.current?.setAoi(null);
    }
  };

  const insert = async () => {
    if (!last) {
      return;
    }
    try {
      await props.insertCode(last.code, replace && inserted !== null);
      setInserted(last.code);
    } catch (e) {
      setError(message(e));
    }
  };

  const wanted = filterText.toLowerCase();
  const shownCollections = collections.filter(
    c => !wanted || c.id.toLowerCase().includes(wanted) || c.title.toLowerCase().includes(wanted)
  );
  const extra = canFilter ? queryables.filter(q => !OWN_FIELDS.has(q.name)) : [];
  const sorted = React.useMemo(() => sortRows(rows, sort), [rows, sort]);
  const selectedRow = rows.find(r => r.id === selected) ?? null;

  return (
    <div className="eopde-Catalogue-body">
      <div className="eopde-Field">
        <label htmlFor="eopde-catalogue-url">Catalogue</label>
        <select
          id="eopde-catalogue-url"
          value={url ?? ''}
          onChange={e => setUrl(e.target.value || null)}
        >
          {all.map(c => (
            <option key={`${c.name}-${c.url}`} value={c.url ?? ''}>
              {c.platform
                ? 'Platform catalogue'
                : `${c.name} (${api.KIND_TITLES[c.kind ?? 'stac']})`}
            </option>
          ))}
        </select>
      </div>
      <details className="eopde-Catalogue-add">
        <summary>Add a catalogue</summary>
        <select
          aria-label="Kind of catalogue to add"
          value={newKind}
          onChange={e => setNewKind(e.target.value as api.CatalogueKind)}
        >
          {Object.entries(api.KIND_TITLES).map(([k, title]) => (
            <option key={k} value={k}>
              {title}
            </option>
          ))}
        </select>
        <input
          aria-label="Catalogue URL to add"
          placeholder={
            newKind === 'opensearch'
              ? 'https://…/opensearch (description document)'
              : newKind === 'csw'
                ? 'https://…/csw'
                : 'https://…/stac'
          }
          value={newUrl}
          onChange={e => setNewUrl(e.target.value)}
        />
        <button
          className="jp-mod-styled"
          onClick={() =>
            void props
              .addCatalogue({
                name: new URL(newUrl, location.href).host,
                url: newUrl,
                kind: newKind
              })
              .then(() => {
                setUrl(newUrl);
                setNewUrl('');
              })
              .catch(e => setError(message(e)))
          }
          disabled={!/^https?:\/\//.test(newUrl)}
        >
          Add
        </button>
      </details>
      {notes && (
        <div className="eopde-Catalogue-notes" role="note" aria-label="What this catalogue offers">
          {notes}
        </div>
      )}
      {!notes && <div className="eopde-Field">
        <label htmlFor="eopde-collection-filter">Collection</label>
        <input
          id="eopde-collection-filter"
          placeholder="filter collections"
          value={filterText}
          onChange={e => setFilterText(e.target.value)}
        />
        <select
          aria-label="Collection"
          className="eopde-Collections"
          size={Math.min(5, Math.max(2, shownCollections.length + 1))}
          value={form.collection}
          onChange={e => set({ collection: e.target.value, values: {} })}
        >
          <option value="">all collections</option>
          {shownCollections.map(c => (
            <option key={c.id} value={c.id} title={c.description}>
              {c.title === c.id ? c.id : `${c.title} (${c.id})`}
            </option>
          ))}
        </select>
      </div>}
      <div className="eopde-Row">
        <div className="eopde-Field">
          <label htmlFor="eopde-start">From</label>
          <input id="eopde-start" type="date" value={form.start}
            onChange={e => set({ start: e.target.value })} />
        </div>
        <div className="eopde-Field">
          <label htmlFor="eopde-end">To</label>
          <input id="eopde-end" type="date" value={form.end}
            onChange={e => set({ end: e.target.value })} />
        </div>
      </div>
      <div className="eopde-Field">
        <label htmlFor="eopde-cloud">
          Cloud cover at most {form.cloudCover < 100 ? `${form.cloudCover} %` : '(any)'}
        </label>
        <input id="eopde-cloud" type="range" min={0} max={100} value={form.cloudCover}
          onChange={e => set({ cloudCover: Number(e.target.value) })} />
      </div>
      {canFilter && (
        <details className="eopde-Catalogue-more">
          <summary>More filters ({extra.length} queryables, CQL2)</summary>
          {extra.map(q => (
            <QueryableField
              key={q.name}
              queryable={q}
              value={form.values[q.name] ?? ''}
              onChange={v => set({ values: { ...form.values, [q.name]: v } })}
            />
          ))}
          <div className="eopde-Field">
            <label htmlFor="eopde-cql">CQL2 filter</label>
            <input id="eopde-cql" placeholder="e.g. platform = 'sentinel-2a'" value={form.cql}
              onChange={e => set({ cql: e.target.value })} />
          </div>
        </details>
      )}
      <div className="eopde-Field">
        <label htmlFor="eopde-bbox">Area (west, south, east, north)</label>
        <input id="eopde-bbox" placeholder="draw on the map, or type a box" value={form.bboxText}
          onChange={e => typedBBox(e.target.value)} />
      </div>
      <div className="eopde-Row eopde-Catalogue-draw">
        <button className="jp-mod-styled" onClick={() => map.current?.startDrawing('rectangle')}>
          Draw a rectangle
        </button>
        <button className="jp-mod-styled" onClick={() => map.current?.startDrawing('polygon')}>
          Draw a polygon
        </button>
        <button
          className="jp-mod-styled"
          onClick={() => {
            map.current?.setAoi(null);
            set({ aoi: null, bboxText: '', wkt: '' });
            setNotice(null);
          }}
        >
          Clear
        </button>
      </div>
      {basemap !== undefined && (
        <MapView basemap={basemap} onAoi={onAoi} onReady={m => (map.current = m)} />
      )}
      <details className="eopde-Catalogue-aoi-more">
        <summary>Area as WKT, or from the notebook's map</summary>
        <div className="eopde-Field">
          <label htmlFor="eopde-wkt">Area as WKT</label>
          <div className="eopde-Row">
            <input id="eopde-wkt" placeholder="POLYGON ((12.1 43.1, 12.2 43.1, …))"
              value={form.wkt} onChange={e => set({ wkt: e.target.value })}
              onKeyDown={e => e.key === 'Enter' && void useWkt()} />
            <button className="jp-mod-styled" disabled={!form.wkt.trim()}
              onClick={() => void useWkt()}>
              Show
            </button>
          </div>
        </div>
        <button className="jp-mod-styled" onClick={() => void fromNotebook()}>
          From the notebook's map
        </button>
      </details>
      {notice && <div className="eopde-Catalogue-notice" role="status">{notice}</div>}
      <div className="eopde-Row">
        <div className="eopde-Field">
          <label htmlFor="eopde-max">At most</label>
          <input id="eopde-max" type="number" min={1} max={5000} value={form.maxItems}
            onChange={e => set({ maxItems: Number(e.target.value) || 1 })} />
        </div>
        <button className="jp-mod-styled jp-mod-accept eopde-Catalogue-search"
          onClick={() => void runSearch()} disabled={busy || !url}>
          {busy ? 'Searching…' : 'Search'}
        </button>
      </div>
      {error && <div className="eopde-Catalogue-error" role="alert">{error}</div>}
      {last && (
        <div className="eopde-Catalogue-status" aria-live="polite">
          {rows.length} item{rows.length === 1 ? '' : 's'}
          {last.matched !== null ? ` of ${last.matched} matched` : ''}
          {last.next !== null ? ' (scroll for more)' : ''}
        </div>
      )}
      {rows.length > 0 && (
        <ResultsTable
          rows={sorted}
          sort={sort}
          onSort={setSort}
          hovered={hovered}
          selected={selected}
          onHover={id => {
            setHovered(id);
            map.current?.highlight(id, id !== null);
          }}
          onSelect={id => select(id)}
          onEnd={() => void loadMore()}
          height={Math.min(8, rows.length) * 26}
        />
      )}
      {selectedRow && (
        <div className="eopde-Row eopde-Catalogue-use">
          <button className="jp-mod-styled" disabled={!selectedRow.href}
            title={selectedRow.href ? selectedRow.href : 'This item has no URL to stage in'}
            onClick={() => {
              const { id } = selectedRow;
              setHanded(null);
              props.useAsInput(selectedRow).then(
                text => setHanded({ id, text, failed: false }),
                e => setHanded({ id, text: message(e), failed: true })
              );
            }}>
            Use {selectedRow.id} as input
          </button>
          {handed?.id === selectedRow.id && (
            <div className={handed.failed ? 'eopde-Catalogue-error' : 'eopde-Catalogue-notice'}
              role={handed.failed ? 'alert' : 'status'}>
              {handed.text}
            </div>
          )}
        </div>
      )}
      {last && (
        <div className="eopde-Row eopde-Catalogue-code">
          <button className="jp-mod-styled" onClick={() => void insert()}>
            Insert as code
          </button>
          <label>
            <input type="checkbox" checked={replace}
              onChange={e => setReplace(e.target.checked)} />
            replace the cell inserted before
          </label>
        </div>
      )}
    </div>
  );
}
