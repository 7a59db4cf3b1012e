/* The catalogue panel's calls to the server extension (lib/eopde/server/catalogue.py). */
import type * as GeoJSON from 'geojson';

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { post, requestAPI } from '../api';

export type CatalogueKind = 'stac' | 'csw' | 'opensearch';

export const KIND_TITLES: { [kind in CatalogueKind]: string } = {
  stac: 'STAC API',
  csw: 'CSW',
  opensearch: 'OpenSearch'
};

export interface ICatalogue {
  name: string;
  url: string | null;
  /** What the endpoint speaks (default: a STAC API). */
  kind?: CatalogueKind;
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
  /** The platform catalogue's thumbnail URL, or (a user-added catalogue's record) this
   * server's route that fetches it through the catalogue's guard: "catalogue/thumbnail/…". */
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
  kind?: CatalogueKind;
  collections?: string[];
  bbox?: number[];
  /** A GeoJSON geometry, or WKT text (the inserted code then carries the WKT). */
  intersects?: GeoJSON.Geometry | string;
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

/** The browser's URL of a row's thumbnail (the server's route resolved), or null. */
export function thumbnailSrc(f: IItemFeature): string | null {
  if (!f.thumbnail) {
    return null;
  }
  if (f.thumbnail.startsWith('catalogue/thumbnail/')) {
    return URLExt.join(ServerConnection.makeSettings().baseUrl, 'eopde', f.thumbnail);
  }
  return f.thumbnail;
}

export interface ICollectionsAnswer {
  collections: ICollection[];
  features: { [k: string]: boolean };
  /** A CSW/OpenSearch endpoint: what the panel searches it with and what it cannot do. */
  notes?: string;
  /** An OpenSearch endpoint: the parameters its description declares. */
  parameters?: string[];
}

export function collections(
  url: string | null,
  kind: CatalogueKind = 'stac'
): Promise<ICollectionsAnswer> {
  return requestAPI(`catalogue/collections${query({ url, kind })}`);
}

export function queryables(
  url: string | null,
  collection: string | null,
  kind: CatalogueKind = 'stac'
): Promise<{ queryables: IQueryable[]; features: { [k: string]: boolean } }> {
  return requestAPI(`catalogue/queryables${query({ url, collection, kind })}`);
}

/** A WKT (or GeoJSON) text as a GeoJSON geometry, read by the library (eopde.catalogue). */
export function aoi(wkt: string): Promise<{ geometry: GeoJSON.Geometry; bbox: number[] }> {
  return post('catalogue/aoi', { wkt });
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
