/* Notifications when a job ends, whether the jobs panel was ever opened or not.
 *
 * Jobs started in this browser session (the wizard's Execute step, the panel's Re-run) are
 * watched: while one of them runs, its status is asked every few seconds, unless the panel's
 * listing (or the wizard's monitor) has just said it; nothing is asked when none runs. The
 * panel's listing reports every job it sees, so a job seen running there is notified too. Each
 * job's end is notified once. The watched jobs outlive a reload (sessionStorage). */
import { Notification } from '@jupyterlab/apputils';

import { RequestError } from '../api';
import * as api from './api';

const STORE = 'eopde:watched-jobs';

type Key = string;
const key = (job: { ades: string; id: string }): Key => `${job.ades}\n${job.id}`;

export interface IWatchedJob {
  ades: string;
  id: string;
  process: string | null;
  status: string;
}

export class JobWatcher {
  /** Milliseconds between two checks of a watched running job. */
  intervalMs = 5000;
  /** What the notifications' "Show" does (the plugin opens the jobs panel). */
  onShow: ((job: IWatchedJob) => void) | null = null;

  private watched = new Map<Key, IWatchedJob>();
  private lastSeen = new Map<Key, { status: string; at: number }>();
  private notified = new Set<Key>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private storage: Storage | null = window.sessionStorage) {
    try {
      const saved = JSON.parse(this.storage?.getItem(STORE) ?? '[]') as IWatchedJob[];
      saved.forEach(job => this.watched.set(key(job), job));
    } catch {
      // a broken entry: start with none
    }
    this.schedule();
  }

  /** Jobs watched and not ended yet. */
  get running(): IWatchedJob[] {
    return [...this.watched.values()];
  }

  /** Watch a job started here until it ends. */
  track(job: IWatchedJob): void {
    if (api.FINAL.has(job.status)) {
      this.notify(job);
      return;
    }
    this.watched.set(key(job), { ...job });
    this.save();
    this.schedule();
  }

  /** Statuses seen elsewhere (the panel's listing, the wizard's monitor): a job seen running
   * before, or watched, that has ended is notified. */
  observe(jobs: api.IJob[]): void {
    const now = Date.now();
    for (const job of jobs) {
      const k = key(job);
      const before = this.lastSeen.get(k)?.status;
      this.lastSeen.set(k, { status: job.status, at: now });
      const watched = this.watched.get(k);
      if (watched) {
        watched.status = job.status;
        watched.process = watched.process ?? job.process;
      }
      if (!api.FINAL.has(job.status)) {
        continue;
      }
      if (watched || (before && !api.FINAL.has(before))) {
        this.notify(job);
      }
    }
  }

  private notify(job: IWatchedJob & { message?: string | null }): void {
    const k = key(job);
    if (this.watched.delete(k)) {
      this.save();
    }
    if (this.notified.has(k) || job.status === 'dismissed') {
      this.notified.add(k);
      return;
    }
    this.notified.add(k);
    const text = `Job ${job.process ?? ''} ${job.id.slice(0, 8)} ${job.status}`;
    const actions = this.onShow
      ? [{ label: 'Show', callback: () => this.onShow?.(job) }]
      : [];
    if (job.status === 'successful') {
      Notification.success(text, { autoClose: 8000, actions });
    } else {
      Notification.error(`${text}${job.message ? `: ${job.message}` : ''}`, {
        autoClose: false,
        actions
      });
    }
  }

  private schedule(): void {
    if (this.timer === undefined && this.watched.size) {
      this.timer = setTimeout(() => void this.check(), this.intervalMs);
    }
  }

  /** Ask each watched job's status, unless it was seen within the interval. */
  private async check(): Promise<void> {
    this.timer = undefined;
    const stale = Date.now() - this.intervalMs;
    for (const job of this.running) {
      if ((this.lastSeen.get(key(job))?.at ?? 0) > stale) {
        continue;
      }
      try {
        this.observe([await api.status(job)]);
      } catch (e) {
        if ((e as RequestError).status === 404) {
          this.watched.delete(key(job)); // gone (dismissed elsewhere): nothing to say
          this.save();
        }
      }
    }
    this.schedule();
  }

  private save(): void {
    try {
      this.storage?.setItem(STORE, JSON.stringify(this.running));
    } catch {
      // storage full or refused: watched until the page goes
    }
  }
}

/** The one watcher of this page (the wizard and the panel both report to it). */
let shared: JobWatcher | null = null;
export function watcher(): JobWatcher {
  if (!shared) {
    shared = new JobWatcher();
  }
  return shared;
}
