import React, { useRef, useState } from 'react';

import { post, requestAPI, RequestError } from './api';
import { IOffer, InputsForm, inputValues } from './inputs';
import { IPackaged, IRunStatus, IStacItem } from './types';
import { usePoll } from './usepoll';
import { ItemsMap } from './wizardmap';

type Errors = { [field: string]: string };
const POLL_MS = 1000;

/** The items of a result catalog as a table (id, date, assets). */
export function ItemsTable(props: { items: IStacItem[]; caption: string }): JSX.Element {
  return (
    <table className="eopde-items">
      <caption>{props.caption}</caption>
      <thead>
        <tr><th>Item</th><th>Date</th><th>Assets</th></tr>
      </thead>
      <tbody>
        {props.items.map(item => (
          <tr key={item.id}>
            <td><code>{item.id}</code></td>
            <td>{item.datetime}</td>
            <td>
              {(Array.isArray(item.assets) ? item.assets : Object.keys(item.assets)).join(', ')}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Step 5: the package run locally (eopde.apppkg.run) with the inputs of a form generated from
 * its process description; the log streams in as it is written; cancel stops cwltool. */
export function TestRunStep(props: {
  path: string;
  body: () => any;
  packaged: IPackaged | null;
  values: { [name: string]: string };
  onChange: (name: string, value: string) => void;
  runId: string;
  setRunId: (id: string) => void;
  /** an item from the catalogue panel, for the item inputs */
  offer: IOffer | null;
}): JSX.Element {
  const [run, setRun] = useState<IRunStatus | null>(null);
  const [log, setLog] = useState('');
  const [messages, setMessages] = useState<string[]>([]);
  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState('');
  const position = useRef({ run: '', messages: 0, offset: 0 });
  const inputs = (props.packaged?.process as any)?.inputs ?? {};

  // follow the run: the status, the new messages and the log from where the last poll ended
  // (at once again while the log has more to give)
  usePoll(
    async alive => {
      if (!props.runId) {
        return false;
      }
      const p = position.current;
      if (p.run !== props.runId) {
        position.current = { run: props.runId, messages: 0, offset: 0 };
        setLog('');
        setMessages([]);
      }
      try {
        const { messages: m, offset } = position.current;
        const s = await requestAPI<IRunStatus>(
          `runs/${props.runId}?messages=${m}&offset=${offset}`
        );
        if (!alive()) {
          return false;
        }
        position.current = { run: props.runId, messages: m + s.messages.length,
          offset: s.offset };
        if (s.messages.length) {
          setMessages(all => [...all, ...s.messages]);
        }
        if (s.log) {
          setLog(l => l + s.log);
        }
        setRun(s);
        return s.status === 'running' ? true : s.log ? 0 : false;
      } catch (e) {
        if (alive()) {
          setError((e as RequestError).message);
        }
        return false;
      }
    },
    POLL_MS,
    [props.runId]
  );

  const start = async () => {
    const { values, errors: bad } = inputValues(inputs, props.values);
    setErrors(bad);
    setError('');
    if (Object.keys(bad).length) {
      return;
    }
    try {
      setRun(null);
      const started = await post<{ id: string }>('runs', { ...props.body(), inputs: values });
      props.setRunId(started.id);
    } catch (e) {
      setError((e as RequestError).message);
    }
  };
  const cancel = async () => {
    try {
      await requestAPI(`runs/${props.runId}`, { method: 'DELETE' });
    } catch (e) {
      setError((e as RequestError).message);
    }
  };

  if (!props.packaged) {
    return <p>Generating the package first (step 4)…</p>;
  }
  const running = run?.status === 'running';
  const result = run?.result;
  return (
    <div className="eopde-TestRun">
      <p>
        Runs the package on this server as an ADES would (STAC stage-in, cwltool, the result
        catalog checked), with these inputs:
      </p>
      <InputsForm inputs={inputs} values={props.values} errors={errors}
        onChange={props.onChange} offer={props.offer} />
      <div className="eopde-actions">
        <button className="jp-mod-accept" disabled={running} onClick={() => void start()}>
          {props.runId && !running ? 'Run again' : 'Start the test run'}
        </button>
        {running && <button onClick={() => void cancel()}>Cancel the test run</button>}
      </div>
      {error && <div className="eopde-error" role="alert">{error}</div>}
      {run && (
        <p className="eopde-run-status" role="status" data-status={run.status}>
          {running ? 'Running…' : `Test run ${run.status}` +
            (result ? ` in ${result.seconds.toFixed(1)} s` : '') + '.'}
        </p>
      )}
      {run?.error && <div className="eopde-error" role="alert">{run.error.message}</div>}
      {result && result.status !== 'successful' && result.message && (
        <div className="eopde-error" role="alert">{result.message}</div>
      )}
      {result?.problems?.length ? (
        <ul className="eopde-error">{result.problems.map((p, i) => <li key={i}>{p}</li>)}</ul>
      ) : null}
      {result && result.items.length > 0 && (
        <>
          <p>Result catalog: <code>{result.catalog}</code></p>
          <ItemsTable items={result.items} caption={`${result.items.length} result item(s)`} />
          <ItemsMap items={result.items} label="The test run's result items" />
        </>
      )}
      {(messages.length > 0 || log) && (
        <section aria-labelledby="eopde-runlog-title">
          <h3 id="eopde-runlog-title">Log</h3>
          <pre className="eopde-log eopde-run-messages" tabIndex={0}>{messages.join('\n')}</pre>
          <pre className="eopde-log eopde-run-log" tabIndex={0} aria-label="cwltool's log">
            {log}
          </pre>
        </section>
      )}
    </div>
  );
}
