/* A finished job's results in the jobs panel: the result catalog as a tree (catalogs,
 * collections, items and their assets) beside its items on the map; publishing them to the
 * user's workspace. */
import * as React from 'react';

import { RequestError } from '../api';
import { EoMap, MapView } from '../map';
import * as api from './api';

function Node(props: {
  node: api.ITreeNode;
  depth: number;
  onHover: (id: string | null) => void;
}): JSX.Element {
  const { node } = props;
  if (node.type === 'Item') {
    return (
      <li className="eopde-Tree-item" data-item={node.id}
        onMouseEnter={() => props.onHover(node.id)} onMouseLeave={() => props.onHover(null)}>
        <details>
          <summary>
            <span className="eopde-Tree-kind">Item</span> {node.title ?? node.id}
          </summary>
          <ul className="eopde-Tree-assets">
            {(node.assets ?? []).map(a => (
              <li key={a.key} data-asset={a.key}>
                <code>{a.key}</code> {a.type ? <span>({a.type})</span> : null}{' '}
                <span className="eopde-Tree-href" title={a.href}>{a.href}</span>
              </li>
            ))}
          </ul>
        </details>
      </li>
    );
  }
  return (
    <li className="eopde-Tree-node" data-node={node.id}>
      <details open={props.depth < 2}>
        <summary>
          <span className="eopde-Tree-kind">{node.type}</span> {node.title ?? node.id}
        </summary>
        <ul>
          {(node.children ?? []).map((child, i) => (
            <Node key={`${child.type}-${child.id}-${i}`} node={child} depth={props.depth + 1}
              onHover={props.onHover} />
          ))}
          {node.more && <li className="eopde-Tree-more">… more (not read)</li>}
        </ul>
      </details>
    </li>
  );
}

export function Results(props: {
  job: api.IJob;
  results: api.IJobResults;
  basemap: string | null | undefined;
  onClose: () => void;
}): JSX.Element {
  const { results } = props;
  const map = React.useRef<EoMap | null>(null);
  const [collection, setCollection] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState('');
  const [published, setPublished] = React.useState<api.IPublished | null>(null);
  const footprints = React.useMemo(() => api.features(results.items), [results]);

  React.useEffect(() => {
    map.current?.setFootprints(footprints);
  }, [footprints]);

  const publish = async () => {
    setBusy(true);
    setError('');
    try {
      setPublished(await api.publish(props.job, collection.trim()));
    } catch (e) {
      setError((e as RequestError).message);
    } finally {
      setBusy(false);
    }
  };

  const count = `${results.total} item${results.total === 1 ? '' : 's'}`;
  return (
    <section className="eopde-Jobs-results" data-results={results.id}
      aria-label={`Results of ${results.id}`}>
      <div className="eopde-Row">
        <strong>Results of {props.job.process ?? ''} {results.id.slice(0, 8)}</strong>
        <button className="jp-mod-styled" onClick={props.onClose}>Close</button>
      </div>
      <div className="eopde-Jobs-items">
        {count}: {results.items.map(i => i.id).join(', ')}
      </div>
      {results.catalog && (
        <div className="eopde-Job-meta" title={results.catalog}>{results.catalog}</div>
      )}
      <ul className="eopde-Tree" aria-label="The result catalog">
        <Node node={results.tree} depth={0}
          onHover={id => map.current?.highlight(id, id !== null)} />
      </ul>
      {props.basemap !== undefined && (
        <MapView basemap={props.basemap} onReady={m => {
          map.current = m;
          m?.setFootprints(footprints);
        }} />
      )}
      <div className="eopde-Jobs-publish">
        <div className="eopde-Field">
          <label htmlFor={`eopde-publish-${results.id}`}>
            Collection (empty: your workspace collection)
          </label>
          <input id={`eopde-publish-${results.id}`} value={collection}
            onChange={e => setCollection(e.target.value)} />
        </div>
        <button className="jp-mod-styled jp-mod-accept" disabled={busy}
          onClick={() => void publish()}>
          {busy ? 'Publishing…' : 'Publish to workspace'}
        </button>
      </div>
      {error && <div className="eopde-Catalogue-error" role="alert">{error}</div>}
      {published && (
        <p className="eopde-Jobs-published" role="status">
          Published to {published.collection}: {published.created.length} item(s) created
          {published.updated.length ? `, ${published.updated.length} updated` : ''}.
        </p>
      )}
    </section>
  );
}
