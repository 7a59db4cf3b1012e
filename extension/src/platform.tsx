import React, { useEffect, useState } from 'react';

import { post, requestAPI, RequestError } from './api';
import { watcher } from './jobs/watch';
import { Field } from './steps';
import { IOffer, InputsForm, inputValues } from './inputs';
import { ItemsTable } from './testrun';
import { IJobStatus, IStacItem } from './types';
import { usePoll } from './usepoll';
import { ItemsMap } from './wizardmap';

type Errors = { [field: string]: string };
const POLL_MS = 2000;

interface IEndpoints {
  endpoints: { name: string; url: string }[];
  default: string | null;
  problem?: string;
}

interface IPreview {
  id: string;
  version: string;
  exists: boolean;
  deployed_version?: string;
  changes: string[];
  diff: string;
}

function ErrorLine(props: { text: string }): JSX.Element | null {
  return props.text ? <div className="eopde-error" role="alert">{props.text}</div> : null;
}

/** Step 6: choose a configured ADES; when the process is deployed there, what changes first;
 * then deploy (or replace). */
export function DeployStep(props: {
  body: () => any;
  ades: string;
  defaultAdes: string;
  onDeployed: (ades: string, process: string) => void;
}): JSX.Element {
  const [found, setFound] = useState<IEndpoints | null>(null);
  const [ades, setAdes] = useState(props.ades);
  const [preview, setPreview] = useState<IPreview | null>(null);
  const [busy, setBusy] = useState('');
  const [error, setError] = useState('');
  const [done, setDone] = useState('');

  useEffect(() => {
    const query = props.defaultAdes ? `?default=${encodeURIComponent(props.defaultAdes)}` : '';
    requestAPI<IEndpoints>(`ades${query}`)
      .then(list => {
        setFound(list);
        const names = list.endpoints.map(e => e.name);
        if (!names.includes(ades)) {
          setAdes(list.default ?? '');
        }
      })
      .catch(e => setError((e as RequestError).message));
  }, []);

  useEffect(() => {
    if (!ades) {
      return;
    }
    setPreview(null);
    setDone('');
    setBusy('Looking for the process on this ADES…');
    setError('');
    post<IPreview>('deploy/preview', { ...props.body(), ades })
      .then(setPreview)
      .catch(e => setError((e as RequestError).message))
      .finally(() => setBusy(''));
  }, [ades]);

  const deploy = async (replace: boolean) => {
    setBusy(replace ? 'Replacing the deployed process…' : 'Deploying…');
    setError('');
    try {
      const out = await post<{ id: string; version: string }>('deploy', {
        ...props.body(),
        ades,
        replace
      });
      setDone(`Deployed ${out.id} ${out.version ?? ''} on ${ades}.`);
      props.onDeployed(ades, out.id);
    } catch (e) {
      setError((e as RequestError).message);
    } finally {
      setBusy('');
    }
  };

  if (found && found.endpoints.length === 0) {
    return (
      <div className="eopde-empty" role="status">
        <p><strong>No ADES is configured.</strong></p>
        <p>
          An ADES (an OGC API - Processes server) runs the deployed application. Start the
          local platform with <code>eopde up</code>, set <code>EOPDE_ADES_URL</code>, or add
          <code> ades_url</code> to a platform in <code>~/.config/eopde/platforms.toml</code>,
          then open this step again.
        </p>
        {found.problem && <p className="eopde-error">{found.problem}</p>}
      </div>
    );
  }
  return (
    <div className="eopde-Deploy">
      <div className="eopde-Field">
        <label htmlFor="eopde-ades">ADES</label>
        <select id="eopde-ades" value={ades} onChange={e => setAdes(e.target.value)}>
          {!ades && <option value="">Choose an ADES…</option>}
          {(found?.endpoints ?? []).map(e => (
            <option key={e.name} value={e.name}>{e.name} ({e.url})</option>
          ))}
        </select>
      </div>
      <div className="eopde-status" role="status">{busy}</div>
      <ErrorLine text={error} />
      {preview && !preview.exists && (
        <div>
          <p>{preview.id} is not deployed on {ades} yet.</p>
          <button className="jp-mod-accept" disabled={!!busy} onClick={() => void deploy(false)}>
            Deploy {preview.id} {preview.version}
          </button>
        </div>
      )}
      {preview && preview.exists && (
        <section className="eopde-changes" aria-labelledby="eopde-changes-title">
          <h3 id="eopde-changes-title">
            {preview.id} is deployed on {ades} (version {preview.deployed_version ?? '?'}):
            what a replace changes
          </h3>
          {preview.changes.length ? (
            <ul>{preview.changes.map((c, i) => <li key={i}>{c}</li>)}</ul>
          ) : (
            <p>Nothing in the process description changes.</p>
          )}
          {preview.diff ? (
            <pre className="eopde-diff" tabIndex={0} aria-label="CWL differences">
              {preview.diff}
            </pre>
          ) : (
            <p>The CWL is the same.</p>
          )}
          <button className="jp-mod-accept" disabled={!!busy} onClick={() => void deploy(true)}>
            Replace the deployed {preview.id}
          </button>
        </section>
      )}
      {done && <p className="eopde-valid" role="status">{done}</p>}
    </div>
  );
}

/** Step 7: a form from the deployed process's description; executes a job. */
export function ExecuteStep(props: {
  ades: string;
  process: string;
  values: { [name: string]: string };
  onChange: (name: string, value: string) => void;
  onStarted: (job: string) => void;
  /** an item from the catalogue panel, for the item inputs */
  offer: IOffer | null;
}): JSX.Element {
  const [description, setDescription] = useState<any>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!props.ades || !props.process) {
      return;
    }
    post<any>('process', { ades: props.ades, process: props.process })
      .then(setDescription)
      .catch(e => setError((e as RequestError).message));
  }, [props.ades, props.process]);

  const execute = async () => {
    const { values, errors: bad } = inputValues(description.inputs ?? {}, props.values);
    setErrors(bad);
    if (Object.keys(bad).length) {
      return;
    }
    setBusy(true);
    setError('');
    try {
      const job = await post<IJobStatus>('execute', {
        ades: props.ades,
        process: props.process,
        inputs: values
      });
      // a notification when it ends, whatever is open then
      watcher().track({ ades: props.ades, id: job.id, process: props.process,
        status: job.status });
      props.onStarted(job.id);
    } catch (e) {
      const err = e as RequestError;
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };

  if (!props.process) {
    return <p>Deploy the process first (step 6).</p>;
  }
  return (
    <div className="eopde-Execute">
      <p>
        {props.process} on {props.ades}
        {description?.version ? `, version ${description.version}` : ''}.
      </p>
      <ErrorLine text={error} />
      {description && (
        <>
          <InputsForm inputs={description.inputs ?? {}} values={props.values} errors={errors}
            onChange={props.onChange} offer={props.offer} />
          <button className="jp-mod-accept" disabled={busy} onClick={() => void execute()}>
            {busy ? 'Starting…' : `Execute ${props.process}`}
          </button>
        </>
      )}
    </div>
  );
}

/** Step 8: the job's status, progress and per-step logs, polled; cancel; the result items. */
export function MonitorStep(props: { ades: string; job: string }): JSX.Element {
  const [status, setStatus] = useState<IJobStatus | null>(null);
  const [items, setItems] = useState<IStacItem[] | null>(null);
  const [error, setError] = useState('');

  usePoll(
    async alive => {
      if (!props.job) {
        return false;
      }
      try {
        const s = await post<IJobStatus>('job', { ades: props.ades, job: props.job, logs: true });
        if (!alive()) {
          return false;
        }
        setStatus(s);
        watcher().observe([s]);
        if (['accepted', 'running'].includes(s.status)) {
          return true;
        }
        if (s.status === 'successful') {
          const found = await post<{ items: IStacItem[] }>('results', {
            ades: props.ades,
            job: props.job
          });
          if (alive()) {
            setItems(found.items);
          }
        }
      } catch (e) {
        if (alive()) {
          setError((e as RequestError).message);
        }
      }
      return false;
    },
    POLL_MS,
    [props.ades, props.job]
  );

  const cancel = async () => {
    try {
      setStatus(await post<IJobStatus>('dismiss', { ades: props.ades, job: props.job }));
    } catch (e) {
      setError((e as RequestError).message);
    }
  };

  if (!props.job) {
    return <p>Execute the process first (step 7).</p>;
  }
  const live = status && ['accepted', 'running'].includes(status.status);
  return (
    <div className="eopde-Monitor">
      <p>Job <code>{props.job}</code> on {props.ades}</p>
      <ErrorLine text={error} />
      {status && (
        <>
          <p className="eopde-job-status" role="status" data-status={status.status}>
            {status.status}
            {status.progress !== null ? ` (${status.progress} %)` : ''}
            {status.message ? `: ${status.message}` : ''}
          </p>
          <progress max={100} value={status.progress ?? 0} aria-label="Job progress" />
        </>
      )}
      {live && <div><button onClick={() => void cancel()}>Cancel the job</button></div>}
      {items && <ItemsTable items={items} caption={`${items.length} result item(s)`} />}
      {items && <ItemsMap items={items} label="The job's result items" />}
      {status?.step_logs && status.step_logs.length > 0 && (
        <section aria-labelledby="eopde-joblogs-title">
          <h3 id="eopde-joblogs-title">Logs by step</h3>
          {status.step_logs.map(l => (
            <details key={l.title} className="eopde-steplog">
              <summary>{l.title}</summary>
              <pre className="eopde-log" tabIndex={0}>{l.text}</pre>
            </details>
          ))}
        </section>
      )}
    </div>
  );
}

/** Step 9: the job's results into the user's workspace (eopde.workspace). */
export function PublishStep(props: { ades: string; job: string }): JSX.Element {
  const [collection, setCollection] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState<{ collection: string; created: string[];
    updated: string[] } | null>(null);
  const [items, setItems] = useState<IStacItem[]>([]);
  useEffect(() => {
    if (props.job) {
      post<{ items: IStacItem[] }>('results', { ades: props.ades, job: props.job })
        .then(found => setItems(found.items))
        .catch(() => setItems([]));
    }
  }, [props.ades, props.job]);

  const publish = async () => {
    setBusy(true);
    setError('');
    try {
      setDone(await post('publish', {
        ades: props.ades,
        job: props.job,
        collection: collection.trim() || undefined
      }));
    } catch (e) {
      setError((e as RequestError).message);
    } finally {
      setBusy(false);
    }
  };
  if (!props.job) {
    return <p>Execute the process first (step 7).</p>;
  }
  return (
    <div className="eopde-Publish">
      <p>Publishes the results of job <code>{props.job}</code> to your workspace (its bucket and
        catalogue collection).</p>
      <Field name="publish.collection" label="Collection (empty: your workspace collection)"
        value={collection} errors={{}} onChange={setCollection} />
      <button className="jp-mod-accept" disabled={busy} onClick={() => void publish()}>
        {busy ? 'Publishing…' : 'Publish to my workspace'}
      </button>
      <ErrorLine text={error} />
      {done && (
        <p className="eopde-valid eopde-published" role="status">
          Published to {done.collection}: {done.created.length} item(s) created
          {done.updated.length ? `, ${done.updated.length} updated` : ''}
          {done.created.length ? ` (${done.created.join(', ')})` : ''}.
        </p>
      )}
      {items.length > 0 && (
        <ItemsMap items={items}
          label={done ? `Published to ${done.collection}` : 'The results to publish'} />
      )}
    </div>
  );
}
