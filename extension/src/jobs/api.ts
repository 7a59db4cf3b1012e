/* The jobs panel's calls to the server extension (lib/eopde/server/jobs.py, on the one ADES
 * layer server/ades.py that the wizard uses too). An ADES is named as configured (`ades`). */
import type * as GeoJSON from 'geojson';

import { post, requestAPI } from '../api';

/** A job's status as every route answers it (eopde.server.ades.status_doc). */
export interface IJob {
  id: string;
  /** The configured ADES's name. */
  ades: string;
  process: string | null;
  status: string;
  message: string | null;
  progress: number | null;
  created: string | null;
  started: string | null;
  finished: string | null;
  updated: string | null;
  /** The titles of its logs (the ADES's status links them). */
  logs: string[];
}

export interface IJobList {
  jobs: IJob[];
  failures: { [ades: string]: string };
  endpoints: string[];
}

export interface IResultItem {
  id: string;
  datetime: string | null;
  bbox: number[] | null;
  geometry: GeoJSON.Geometry | null;
  collection: string | null;
  href: string | null;
  cloud_cover: number | null;
  assets: string[];
}

/** A node of the result catalog's tree: a catalog or collection with children, or an item
 * with its assets; `more` when the server stopped reading it (too many nodes). */
export interface ITreeNode {
  type: string;
  id: string;
  title: string | null;
  href: string | null;
  children?: ITreeNode[];
  more?: boolean;
  assets?: { key: string; href: string; type: string | null; title: string | null }[];
}

export interface IJobResults {
  id: string;
  ades: string;
  catalog: string | null;
  outputs: { [name: string]: unknown };
  tree: ITreeNode;
  total: number;
  items: IResultItem[];
}

export interface ILogPart extends IJob {
  title: string;
  text: string;
  offset: number;
  reset: boolean;
  skipped: number;
}

export interface IPublished {
  collection: string;
  created: string[];
  updated: string[];
  url: string;
}

export const FINAL = new Set(['successful', 'failed', 'dismissed']);

function where(job: { id: string; ades: string }, route = '', query: string[][] = []): string {
  const q = new URLSearchParams([['ades', job.ades], ...query]);
  return `jobs/${encodeURIComponent(job.id)}${route}?${q.toString()}`;
}

/** The listing, asked with the ETag of the last one: null when nothing changed (a 304,
 * no body: a poll of hundreds of jobs costs a few bytes). The first asks the server to list
 * everything again (`full`); the next ones let it ask the ADES for its running jobs only. */
export class JobListing {
  private etag = '';

  async fetch(): Promise<IJobList | null> {
    let tag = '';
    const headers: { [k: string]: string } = this.etag ? { 'If-None-Match': this.etag } : {};
    const route = this.etag ? 'jobs' : 'jobs?full=1';
    const answer = await requestAPI<IJobList | null>(route, { headers }, r => {
      tag = r.headers.get('ETag') ?? '';
    });
    if (answer) {
      this.etag = tag;
    }
    return answer;
  }

  /** Forget the last listing (the next fetch lists everything again). */
  reset(): void {
    this.etag = '';
  }
}

export function status(job: { id: string; ades: string }): Promise<IJob> {
  return requestAPI(where(job));
}

/** One log of the job from `offset` on (follow a running job's log by asking again from the
 * offset answered). */
export function log(job: IJob, title: string, offset: number): Promise<ILogPart> {
  return requestAPI(where(job, '/logs', [['step', title], ['offset', String(offset)]]));
}

export function results(job: IJob): Promise<IJobResults> {
  return requestAPI(where(job, '/results'));
}

export function publish(job: IJob, collection?: string): Promise<IPublished> {
  return post(`jobs/${encodeURIComponent(job.id)}/publish`, {
    ades: job.ades,
    collection: collection || undefined
  });
}

export interface IJobInputs {
  id: string;
  ades: string;
  process: string | null;
  inputs: { [name: string]: unknown };
  /** Inputs whose credentials the ADES did not keep (a re-run needs them again). */
  redacted: string[];
}

export function inputs(job: IJob): Promise<IJobInputs> {
  return requestAPI(where(job, '/inputs'));
}

/** The job's process again with the same inputs: the new job. */
export function rerun(job: IJob): Promise<IJob> {
  return post(`jobs/${encodeURIComponent(job.id)}/rerun`, { ades: job.ades });
}

export function dismiss(job: IJob): Promise<IJob> {
  return requestAPI(where(job), { method: 'DELETE' });
}

/** A result item as a GeoJSON feature (the map's footprints). */
export function features(items: IResultItem[]): GeoJSON.FeatureCollection {
  return {
    type: 'FeatureCollection',
    features: items
      .filter(i => i.geometry)
      .map(i => ({
        type: 'Feature',
        id: i.id,
        geometry: i.geometry as GeoJSON.Geometry,
        bbox: (i.bbox as GeoJSON.BBox) ?? undefined,
        properties: { id: i.id, datetime: i.datetime }
      }))
  };
}
