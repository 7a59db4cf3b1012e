/* The jobs panel (left sidebar): the user's ADES jobs, newest first, refreshed by polling;
 * a job's log, its results on the map, dismissing it; a notification when a job that was
 * running finishes. */
import { MainAreaWidget, Notification, ReactWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { catalogues } from '../catalogue/api';
import { EoMap, MapView } from '../map';
import { LazySidePanel } from '../sidepanel';
import * as api from './api';

export interface IJobsPanelOptions {
  /** Other ADES endpoints (settings) and the refresh interval, read at each poll. */
  endpoints: () => string[];
  refreshSeconds: () => number;
  /** Put a widget into the main area (the log). */
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

/** The log of one job in the main area, followed (re-read) while the job runs. */
class LogView extends ReactWidget {
  constructor(private job: api.IJob) {
    super();
    this.addClass('eopde-JobLog');
  }
  render(): JSX.Element {
    return <Log job={this.job} />;
  }
}

function Log(props: { job: api.IJob }): JSX.Element {
  const [text, setText] = React.useState('');
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    let stop = false;
    const read = async () => {
      try {
        setText((await api.log(props.job)).text || '(the log is empty so far)');
        setError(null);
      } catch (e) {
        setError((e as Error).message);
      }
      const current = (await api.jobs([]).catch(() => null))?.jobs.find(
        j => j.id === props.job.id
      );
      if (!stop && current && !api.FINAL.has(current.status)) {
        setTimeout(() => void read(), 2000);
      }
    };
    void read();
    return () => {
      stop = true;
    };
  }, []);
  return (
    <div className="eopde-JobLog-body">
      {error && <div className="eopde-Catalogue-error" role="alert">{error}</div>}
      <pre>{text}</pre>
    </div>
  );
}

function Jobs(props: IJobsPanelOptions): JSX.Element {
  const [jobs, setJobs] = React.useState<api.IJob[]>([]);
  const [failures, setFailures] = React.useState<{ [k: string]: string }>({});
  const [error, setError] = React.useState<string | null>(null);
  const [loaded, setLoaded] = React.useState(false);
  const [basemap, setBasemap] = React.useState<string | null | undefined>(undefined);
  const [shown, setShown] = React.useState<api.IJobResults | null>(null);
  const [, tick] = React.useState(0);
  const seen = React.useRef(new Map<string, string>());
  const map = React.useRef<EoMap | null>(null);

  const refresh = React.useCallback(async () => {
    try {
      const answer = await api.jobs(props.endpoints());
      answer.jobs.forEach(job => {
        const before = seen.current.get(job.id);
        if (before && !api.FINAL.has(before) && api.FINAL.has(job.status)) {
          const text = `Job ${job.process ?? ''} ${job.id.slice(0, 8)} ${job.status}`;
          if (job.status === 'successful') {
            Notification.success(text, { autoClose: 8000 });
          } else if (job.status === 'failed') {
            Notification.error(`${text}: ${job.message ?? ''}`, { autoClose: false });
          }
        }
        seen.current.set(job.id, job.status);
      });
      setJobs(answer.jobs);
      setFailures(answer.failures);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoaded(true);
    }
  }, []);

  React.useEffect(() => {
    let timer = 0;
    let stop = false;
    const loop = async () => {
      await refresh();
      if (!stop) {
        timer = window.setTimeout(() => void loop(), props.refreshSeconds() * 1000);
      }
    };
    void loop();
    // durations of running jobs move on between polls
    const clock = window.setInterval(() => tick(t => t + 1), 1000);
    catalogues()
      .then(a => setBasemap(a.basemap))
      .catch(() => setBasemap(null));
    return () => {
      stop = true;
      window.clearTimeout(timer);
      window.clearInterval(clock);
    };
  }, []);

  const openLog = (job: api.IJob) => {
    const widget = new MainAreaWidget({ content: new LogView(job) });
    widget.id = `eopde-log-${job.id}`;
    widget.title.label = `Log of ${job.process ?? 'job'} ${job.id.slice(0, 8)}`;
    widget.title.closable = true;
    props.open(widget);
  };

  const openResults = async (job: api.IJob) => {
    try {
      const found = await api.results(job);
      setShown(found);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  React.useEffect(() => {
    if (shown && map.current) {
      map.current.setFootprints({ type: 'FeatureCollection', features: shown.features });
    }
  }, [shown, basemap]);

  const dismiss = async (job: api.IJob) => {
    try {
      await api.dismiss(job);
      if (shown?.id === job.id) {
        setShown(null);
      }
      await refresh();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <div className="eopde-Jobs-body">
      <div className="eopde-Row">
        <strong>Jobs</strong>
        <button className="jp-mod-styled" onClick={() => void refresh()}>
          Refresh
        </button>
      </div>
      {error && <div className="eopde-Catalogue-error" role="alert">{error}</div>}
      {Object.entries(failures).map(([ades, why]) => (
        <div key={ades} className="eopde-Catalogue-error" role="alert">
          {ades}: {why}
        </div>
      ))}
      {loaded && !jobs.length && <p>No jobs yet.</p>}
      <ul className="eopde-JobList">
        {jobs.map(job => (
          <li key={`${job.ades}-${job.id}`} className="eopde-Job" data-job={job.id}
            data-status={job.status}>
            <div className="eopde-Row">
              <span className="eopde-Job-process">{job.process ?? '(process)'}</span>
              <span className={`eopde-Job-status eopde-status-${job.status}`}>{job.status}</span>
            </div>
            <div className="eopde-Row eopde-Job-meta">
              <span title={job.id}>{job.id.slice(0, 8)}</span>
              <span>{(job.created ?? '').replace('T', ' ').slice(0, 19)}</span>
              <span className="eopde-Job-duration">{duration(job)}</span>
            </div>
            {!api.FINAL.has(job.status) && (
              <progress max={100} value={job.progress ?? 0} aria-label="progress" />
            )}
            {job.message && <div className="eopde-Job-message">{job.message}</div>}
            <div className="eopde-Row">
              <button className="jp-mod-styled" onClick={() => openLog(job)}>Log</button>
              <button className="jp-mod-styled" disabled={job.status !== 'successful'}
                onClick={() => void openResults(job)}>Results</button>
              <button className="jp-mod-styled" disabled={job.status === 'dismissed'}
                onClick={() => void dismiss(job)}>
                {api.FINAL.has(job.status) ? 'Dismiss' : 'Cancel'}
              </button>
            </div>
          </li>
        ))}
      </ul>
      {shown && (
        <div className="eopde-Jobs-results" data-results={shown.id}>
          <div className="eopde-Row">
            <strong>Results of {shown.id.slice(0, 8)}</strong>
            <button className="jp-mod-styled" onClick={() => setShown(null)}>Close</button>
          </div>
          <div className="eopde-Jobs-items">
            {shown.features.length} item{shown.features.length === 1 ? '' : 's'}:{' '}
            {shown.features.map(f => String(f.id)).join(', ')}
          </div>
          {basemap !== undefined && (
            <MapView basemap={basemap} onReady={m => {
              map.current = m;
              m?.setFootprints({ type: 'FeatureCollection', features: shown.features });
            }} />
          )}
        </div>
      )}
    </div>
  );
}
