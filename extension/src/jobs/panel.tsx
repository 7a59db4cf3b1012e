/* The jobs panel (left sidebar): the user's jobs on every configured ADES, newest first,
 * refreshed by polling (a poll with nothing new costs a 304); per job: its inputs, its logs
 * (main area, followed while it runs), its results (the catalog tree and the items on the map,
 * publish to the workspace), re-run with the same inputs, dismiss/cancel. Ends are notified by the page's job watcher (watch.ts). */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { RequestError } from '../api';
import { catalogues } from '../catalogue/api';
import { LazySidePanel } from '../sidepanel';
import { usePoll } from '../usepoll';
import * as api from './api';
import { LogView } from './logview';
import { Results } from './results';
import { watcher } from './watch';

export interface IJobsPanelOptions {
  /** The refresh interval, read at each poll. */
  refreshSeconds: () => number;
  /** Put a widget into the main area (a log). */
  open: (widget: Widget) => void;
}

export class JobsPanel extends LazySidePanel {
  constructor(private options: IJobsPanelOptions) {
    super();
    this.id = 'eopde-jobs';
    this.addClass('eopde-Jobs');
    this.title.caption = 'ADES jobs (eopde)';
  }

  protected renderOpened(): JSX.Element {
    return <Jobs {...this.options} />;
  }
}

function seconds(from: string | null, to: string | null): number | null {
  if (!from) {
    return null;
  }
  const end = to ? Date.parse(to) : Date.now();
  const start = Date.parse(from);
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null;
}

export function duration(job: api.IJob): string {
  const s = seconds(job.started ?? job.created, job.finished);
  if (s === null) {
    return '';
  }
  if (s < 60) {
    return `${Math.round(s)} s`;
  }
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The inputs a job ran with, asked when first shown. */
function Inputs(props: { job: api.IJob }): JSX.Element {
  const [found, setFound] = React.useState<api.IJobInputs | null>(null);
  const [error, setError] = React.useState('');
  const open = (e: React.SyntheticEvent<HTMLDetailsElement>) => {
    if (e.currentTarget.open && !found && !error) {
      api.inputs(props.job)
        .then(setFound)
        .catch(err => setError((err as RequestError).message));
    }
  };
  return (
    <details className="eopde-Job-inputs" onToggle={open}>
      <summary>Inputs</summary>
      {error && <div className="eopde-Job-message">{error}</div>}
      {found && (
        <dl>
          {Object.entries(found.inputs).map(([name, value]) => (
            <React.Fragment key={name}>
              <dt>{name}{found.redacted.includes(name) ? ' (not kept)' : ''}</dt>
              <dd><code>{JSON.stringify(value)}</code></dd>
            </React.Fragment>
          ))}
        </dl>
      )}
    </details>
  );
}

function JobRow(props: {
  job: api.IJob;
  many: boolean;
  onLog: () => void;
  onResults: () => void;
  onRerun: () => void;
  onDismiss: () => void;
}): JSX.Element {
  const { job } = props;
  const final = api.FINAL.has(job.status);
  return (
    <li className="eopde-Job" data-job={job.id} data-status={job.status}>
      <div className="eopde-Row">
        <span className="eopde-Job-process">{job.process ?? '(process)'}</span>
        <span className={`eopde-Job-status eopde-status-${job.status}`}>{job.status}</span>
      </div>
      <div className="eopde-Row eopde-Job-meta">
        <span title={job.id}>{job.id.slice(0, 8)}</span>
        {props.many && <span title="ADES">{job.ades}</span>}
        <span>{(job.created ?? '').replace('T', ' ').slice(0, 19)}</span>
        <span className="eopde-Job-duration">{duration(job)}</span>
      </div>
      {!final && <progress max={100} value={job.progress ?? 0} aria-label="progress" />}
      {job.message && <div className="eopde-Job-message">{job.message}</div>}
      <div className="eopde-Row">
        <button className="jp-mod-styled" onClick={props.onLog}>Log</button>
        <button className="jp-mod-styled" disabled={job.status !== 'successful'}
          onClick={props.onResults}>Results</button>
        <button className="jp-mod-styled" onClick={props.onRerun}
          title="Run the process again with the same inputs">Re-run</button>
        <button className="jp-mod-styled" disabled={job.status === 'dismissed'}
          onClick={props.onDismiss}>
          {final ? 'Dismiss' : 'Cancel'}
        </button>
      </div>
      <Inputs job={job} />
    </li>
  );
}

function Jobs(props: IJobsPanelOptions): JSX.Element {
  const [list, setList] = React.useState<api.IJobList | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [basemap, setBasemap] = React.useState<string | null | undefined>(undefined);
  const [shown, setShown] = React.useState<{ job: api.IJob; results: api.IJobResults } | null>(
    null
  );
  const [, tick] = React.useState(0);
  const listing = React.useRef(new api.JobListing());

  const refresh = usePoll(
    async alive => {
      try {
        const answer = await listing.current.fetch();
        if (!alive()) {
          return false;
        }
        if (answer) {
          watcher().observe(answer.jobs);
          setList(answer);
        }
        setError(null);
      } catch (e) {
        if (alive()) {
          setError((e as RequestError).message);
        }
      }
      return true;
    },
    () => props.refreshSeconds() * 1000,
    []
  );

  React.useEffect(() => {
    // durations of running jobs move on between polls
    const clock = window.setInterval(() => tick(t => t + 1), 1000);
    catalogues()
      .then(a => setBasemap(a.basemap))
      .catch(() => setBasemap(null));
    return () => window.clearInterval(clock);
  }, []);

  const openLog = (job: api.IJob) => {
    const widget = new MainAreaWidget({ content: new LogView(job) });
    widget.id = `eopde-log-${job.ades}-${job.id}`;
    widget.title.label = `Log of ${job.process ?? 'job'} ${job.id.slice(0, 8)}`;
    widget.title.closable = true;
    props.open(widget);
  };

  const openResults = async (job: api.IJob) => {
    try {
      setShown({ job, results: await api.results(job) });
      setError(null);
    } catch (e) {
      setError((e as RequestError).message);
    }
  };

  const rerun = async (job: api.IJob) => {
    try {
      const again = await api.rerun(job);
      watcher().track(again);
      setError(null);
      refresh();
    } catch (e) {
      setError((e as RequestError).message);
    }
  };

  const dismiss = async (job: api.IJob) => {
    try {
      await api.dismiss(job);
      if (shown?.job.id === job.id) {
        setShown(null);
      }
      refresh();
    } catch (e) {
      setError((e as RequestError).message);
    }
  };

  const jobs = list?.jobs ?? [];
  return (
    <div className="eopde-Jobs-body">
      <div className="eopde-Row">
        <strong>Jobs</strong>
        <button className="jp-mod-styled" onClick={() => {
          listing.current.reset();
          refresh();
        }}>
          Refresh
        </button>
      </div>
      {error && <div className="eopde-Catalogue-error" role="alert">{error}</div>}
      {Object.entries(list?.failures ?? {}).map(([ades, why]) => (
        <div key={ades} className="eopde-Catalogue-error" role="alert">
          {ades}: {why}
        </div>
      ))}
      {list && !list.endpoints.length && (
        <p>
          No ADES is configured: start the local platform (<code>eopde up</code>), set
          <code> EOPDE_ADES_URL</code>, or add <code>ades_url</code> to a platform in
          <code> ~/.config/eopde/platforms.toml</code>.
        </p>
      )}
      {list && list.endpoints.length > 0 && !jobs.length && <p>No jobs yet.</p>}
      {shown && (
        <Results job={shown.job} results={shown.results} basemap={basemap}
          onClose={() => setShown(null)} />
      )}
      <ul className="eopde-JobList">
        {jobs.map(job => (
          <JobRow key={`${job.ades}-${job.id}`} job={job} many={list!.endpoints.length > 1}
            onLog={() => openLog(job)} onResults={() => void openResults(job)}
            onRerun={() => void rerun(job)} onDismiss={() => void dismiss(job)} />
        ))}
      </ul>
    </div>
  );
}
