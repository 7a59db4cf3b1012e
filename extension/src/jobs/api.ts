/* The jobs panel's calls to the server extension (lib/eopde/server/jobs.py). */
import type * as GeoJSON from 'geojson';

import { requestAPI } from '../api';

export interface IJob {
  id: string;
  process: string | null;
  /** The ADES's API root; `platform` when it is the platform's. */
  ades: string;
  platform: boolean;
  status: string;
  message: string | null;
  progress: number | null;
  created: string | null;
  started: string | null;
  finished: string | null;
  updated: string | null;
  inputs?: { [name: string]: unknown };
  logs: string[];
}

export interface IJobResults {
  id: string;
  outputs: { [name: string]: unknown };
  catalog: string | null;
  features: GeoJSON.Feature[];
}

export const FINAL = new Set(['successful', 'failed', 'dismissed']);

function where(job: IJob | null, extra: string[] = []): string {
  const q = new URLSearchParams();
  if (job && !job.platform) {
    q.set('ades', job.ades);
  }
  extra.forEach(u => q.append('ades', u));
  const text = q.toString();
  return text ? `?${text}` : '';
}

export function jobs(endpoints: string[]): Promise<{
  jobs: IJob[];
  failures: { [ades: string]: string };
}> {
  return requestAPI(`jobs${where(null, endpoints)}`);
}

export function log(job: IJob): Promise<{ id: string; text: string }> {
  return requestAPI(`jobs/${encodeURIComponent(job.id)}/log${where(job)}`);
}

export function results(job: IJob): Promise<IJobResults> {
  return requestAPI(`jobs/${encodeURIComponent(job.id)}/results${where(job)}`);
}

export function dismiss(job: IJob): Promise<{ id: string; status: string }> {
  return requestAPI(`jobs/${encodeURIComponent(job.id)}${where(job)}`, {
    method: 'DELETE'
  });
}
