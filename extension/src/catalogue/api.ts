/* The catalogue panel's calls to the server extension (lib/eopde/server/catalogue.py). */
import type * as GeoJSON from 'geojson';

import { post, requestAPI } from '../api';

export interface ICatalogue {
  name: string;
  url: string | null;
  platform?: boolean;
}

export interface ICollection {
  id: string;
  title: string;
  description: string;
  interval: (string | null)[];
}

export interface IQueryable {
  name: string;
  title: string;
  kind: 'number' | 'integer' | 'string' | 'boolean' | 'enum' | 'datetime' | 'other';
  minimum?: number;
  maximum?: number;
  enum?: (string | number)[];
  description?: string;
}

export interface IItemFeature extends GeoJSON.Feature {
  id: string;
  collection: string | null;
  bbox: [number, number, number, number];
  properties: { [key: string]: any };
  preview: string | null;
  thumbnail: string | null;
  href: string | null;
}

export interface ISearchPage {
  search: string;
  offset: number;
  features: IItemFeature[];
  next: number | null;
  matched: number | null;
  code: string;
  catalogue: string;
}

/** What the form sends (eopde.catalogue.search's keyword arguments, plus the page size). */
export interface ISearchRequest {
  url?: string;
  collections?: string[];
  bbox?: number[];
  intersects?: GeoJSON.Geometry;
  datetime?: string;
  cloud_cover?: number;
  filter?: string;
  sortby?: string;
  max_items: number;
  limit: number;
}

function query(params: { [key: string]: string | null | undefined }): string {
  const q = new URLSearchParams();
  Object.entries(params).forEach(([k, v]) => {
    if (v) {
      q.set(k, v);
    }
  });
  const text = q.toString();
  return text ? `?${text}` : '';
}

export function catalogues(): Promise<{
  catalogues: ICatalogue[];
  basemap: string | null;
}> {
  return requestAPI('catalogue/catalogues');
}

export function collections(
  url: string | null
): Promise<{ collections: ICollection[]; features: { [k: string]: boolean } }> {
  return requestAPI(`catalogue/collections${query({ url })}`);
}

export function queryables(
  url: string | null,
  collection: string | null
): Promise<{ queryables: IQueryable[]; features: { [k: string]: boolean } }> {
  return requestAPI(`catalogue/queryables${query({ url, collection })}`);
}

export function search(body: ISearchRequest): Promise<ISearchPage> {
  return post('catalogue/search', body);
}

export function page(
  id: string,
  offset: number,
  limit: number
): Promise<ISearchPage> {
  return requestAPI(
    `catalogue/search/${id}${query({ offset: String(offset), limit: String(limit) })}`
  );
}
