/* A job's logs in the main area: one tab per log the ADES links (the job's, then one per CWL
 * step once it ended); the chosen one is followed while the job runs (only what is new is
 * asked: from the offset the last answer gave). */
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

import { RequestError } from '../api';
import { usePoll } from '../usepoll';
import * as api from './api';

const FOLLOW_MS = 2000;

export class LogView extends ReactWidget {
  constructor(private job: api.IJob) {
    super();
    this.addClass('eopde-JobLog');
  }

  render(): JSX.Element {
    return <Log job={this.job} />;
  }
}

function Log(props: { job: api.IJob }): JSX.Element {
  const [titles, setTitles] = React.useState<string[]>(props.job.logs);
  const [title, setTitle] = React.useState<string>(props.job.logs[0] ?? 'Job log');
  const [text, setText] = React.useState('');
  const [status, setStatus] = React.useState(props.job.status);
  const [error, setError] = React.useState('');
  const [follow, setFollow] = React.useState(true);
  const offset = React.useRef(0);
  const end = React.useRef<HTMLPreElement>(null);

  usePoll(
    async alive => {
      const first = offset.current === 0;
      let part: api.ILogPart;
      try {
        part = await api.log(props.job, title, offset.current);
      } catch (e) {
        if (alive()) {
          setError((e as RequestError).message);
        }
        return !api.FINAL.has(status);
      }
      if (!alive()) {
        return false;
      }
      setError('');
      const skipped = part.skipped ? `… (${part.skipped} characters left out)\n` : '';
      setText(t => (first || part.reset ? '' : t) + skipped + part.text);
      offset.current = part.offset;
      setStatus(part.status);
      setTitles(part.logs);
      return !api.FINAL.has(part.status);
    },
    FOLLOW_MS,
    [title]
  );

  React.useEffect(() => {
    if (follow) {
      end.current?.scrollIntoView({ block: 'end' });
    }
  }, [text, follow]);

  const choose = (next: string) => {
    offset.current = 0;
    setText('');
    setTitle(next);
  };

  const running = !api.FINAL.has(status);
  return (
    <div className="eopde-JobLog-body" data-job={props.job.id}>
      <div className="eopde-Row eopde-JobLog-steps" role="tablist" aria-label="Logs">
        {titles.map(t => (
          <button
            key={t}
            role="tab"
            aria-selected={t === title}
            className={`jp-mod-styled ${t === title ? 'jp-mod-accept' : ''}`}
            onClick={() => choose(t)}
          >
            {t}
          </button>
        ))}
      </div>
      <div className="eopde-Row eopde-JobLog-state" role="status" data-status={status}>
        <span>
          {props.job.process ?? 'job'} {props.job.id.slice(0, 8)}: {status}
          {running ? ' — following the log' : ''}
        </span>
        <label>
          <input type="checkbox" checked={follow} onChange={e => setFollow(e.target.checked)} />
          Scroll to the end
        </label>
      </div>
      {error && <div className="eopde-Catalogue-error" role="alert">{error}</div>}
      <pre ref={end} tabIndex={0} aria-label={`Log: ${title}`}>
        {text || (running ? '(nothing written yet)' : '(empty)')}
      </pre>
    </div>
  );
}
