/* A Leaflet map shared by the panels (and the wizard): the platform's offline basemap, GeoJSON
 * footprints with hover, a raster preview through the platform's tile route, and an AOI drawn
 * as a rectangle or a polygon. Drawing is hand-written (a few mouse handlers) rather than
 * leaflet-draw, which is unmaintained and brings its own icons and CSS. */
import type * as GeoJSON from 'geojson';
import * as L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import * as React from 'react';

/** A GeoJSON geometry (what Leaflet's GeoJSON layer accepts). */
export type Geometry = GeoJSON.Geometry;
/** west, south, east, north in degrees. */
export type BBox = [number, number, number, number];
export type DrawMode = 'rectangle' | 'polygon' | null;

export interface IFootprintOptions {
  /** Called with the feature's id when the pointer enters it (null when it leaves). */
  onHover?: (id: string | null) => void;
  /** Called with the feature's id on a click. */
  onSelect?: (id: string) => void;
  /** Text of the hover tooltip (default: the feature's id). */
  label?: (feature: GeoJSON.Feature) => string;
}

const FOOTPRINT: L.PathOptions = {
  color: '#1976d2',
  weight: 1.5,
  fillOpacity: 0.08
};
const HOVERED: L.PathOptions = { color: '#ff9800', weight: 3, fillOpacity: 0.2 };
const SELECTED: L.PathOptions = { color: '#d32f2f', weight: 3, fillOpacity: 0 };
const AOI: L.PathOptions = { color: '#2e7d32', weight: 2, dashArray: '4 4', fillOpacity: 0.05 };

/** The bbox of a GeoJSON geometry (no antimeridian handling: drawn AOIs never cross it). */
export function geometryBBox(geometry: Geometry): BBox {
  const b = L.geoJSON(geometry as any).getBounds();
  return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
}

/** The imperative map; `MapView` below is the React component holding one. */
export class EoMap {
  readonly map: L.Map;
  private footprints: L.GeoJSON | null = null;
  private byId = new Map<string, L.Path>();
  private selected: string | null = null;
  private preview: L.TileLayer | null = null;
  private aoi: L.Layer | null = null;
  private drawMode: DrawMode = null;
  private drawing: L.LatLng[] = [];
  private sketch: L.Polyline | L.Rectangle | null = null;
  private resize: ResizeObserver;

  /** `basemap`: tile URL template of the platform's basemap ({z}/{x}/{y}), or null for none. */
  constructor(
    readonly node: HTMLElement,
    basemap: string | null,
    private onAoi?: (geometry: Geometry | null) => void
  ) {
    this.map = L.map(node, {
      center: [30, 10],
      zoom: 2,
      worldCopyJump: true,
      attributionControl: false
    });
    // reachable from the page (browser tests, other extensions): node.eopdeMap
    (node as any).eopdeMap = this;
    if (basemap) {
      L.tileLayer(basemap, { maxZoom: 18, className: 'eopde-Map-basemap' }).addTo(
        this.map
      );
    }
    // a panel starts hidden or narrow: Leaflet must measure again when it is shown or resized
    this.resize = new ResizeObserver(() => this.map.invalidateSize());
    this.resize.observe(node);
    this.map.on('mousedown', this.down, this);
    this.map.on('mousemove', this.move, this);
    this.map.on('mouseup', this.up, this);
    this.map.on('click', this.click, this);
    this.map.on('dblclick', this.finishPolygon, this);
  }

  dispose(): void {
    this.resize.disconnect();
    this.map.remove();
  }

  // ------------------------------------------------------------------ footprints

  /** Show `features` (a GeoJSON FeatureCollection of items), replacing earlier ones. */
  setFootprints(
    features: GeoJSON.FeatureCollection | null,
    options: IFootprintOptions = {},
    fit = true
  ): void {
    this.footprints?.remove();
    this.footprints = null;
    this.byId.clear();
    this.selected = null;
    if (!features || !features.features.length) {
      return;
    }
    this.footprints = L.geoJSON(features as any, {
      style: () => FOOTPRINT,
      // points (a result item without an area) as circles: Leaflet's default marker needs
      // image files that the extension's bundle does not ship
      pointToLayer: (_feature, latlng) => L.circleMarker(latlng, { radius: 6 }),
      onEachFeature: (feature, layer) => {
        const id = String(feature.id ?? feature.properties?.id ?? '');
        const path = layer as L.Path;
        this.byId.set(id, path);
        path.bindTooltip(options.label ? options.label(feature) : id, { sticky: true });
        path.on('mouseover', () => {
          this.highlight(id, true);
          options.onHover?.(id);
        });
        path.on('mouseout', () => {
          this.highlight(id, false);
          options.onHover?.(null);
        });
        path.on('click', () => options.onSelect?.(id));
      }
    }).addTo(this.map);
    if (fit) {
      this.map.fitBounds(this.footprints.getBounds(), { maxZoom: 12, padding: [8, 8] });
    }
  }

  /** Highlight one footprint as hovered (from the table as well as from the map). */
  highlight(id: string | null, on = true): void {
    this.byId.forEach((path, key) => {
      if (key === this.selected) {
        path.setStyle(SELECTED);
      } else {
        path.setStyle(on && key === id ? HOVERED : FOOTPRINT);
      }
    });
    if (on && id) {
      this.byId.get(id)?.bringToFront();
    }
  }

  /** Mark one footprint as the selected one (null: none). */
  select(id: string | null): void {
    this.selected = id;
    this.highlight(null, false);
  }

  /** Number of footprints shown (tests read it). */
  get footprintCount(): number {
    return this.byId.size;
  }

  // ------------------------------------------------------------------ preview

  /** A tile layer over the footprints (an item's true colour through the tile route);
   * `bounds` limits the requests to the item. null removes it. */
  setPreview(template: string | null, bounds?: BBox): void {
    this.preview?.remove();
    this.preview = null;
    if (!template) {
      return;
    }
    const options: L.TileLayerOptions = { maxZoom: 18, className: 'eopde-Map-preview' };
    if (bounds) {
      options.bounds = L.latLngBounds([bounds[1], bounds[0]], [bounds[3], bounds[2]]);
    }
    this.preview = L.tileLayer(template, options).addTo(this.map);
    if (bounds) {
      this.map.fitBounds(options.bounds as L.LatLngBounds, { maxZoom: 13 });
    }
  }

  // ------------------------------------------------------------------ AOI

  /** Show `geometry` as the AOI (typed bbox, or one set from outside); null clears it. */
  setAoi(geometry: Geometry | null, fit = false): void {
    this.aoi?.remove();
    this.aoi = null;
    if (geometry) {
      const layer = L.geoJSON(geometry as any, { style: () => AOI, interactive: false });
      this.aoi = layer.addTo(this.map);
      if (fit) {
        this.map.fitBounds(layer.getBounds(), { maxZoom: 12 });
      }
    }
  }

  /** Start drawing a rectangle (drag) or a polygon (clicks, double-click to finish). */
  startDrawing(mode: DrawMode): void {
    this.drawMode = mode;
    this.drawing = [];
    this.sketch?.remove();
    this.sketch = null;
    const container = this.map.getContainer();
    container.classList.toggle('eopde-Map-drawing', mode !== null);
    if (mode) {
      this.map.dragging.disable();
      this.map.doubleClickZoom.disable();
    } else {
      this.map.dragging.enable();
      this.map.doubleClickZoom.enable();
    }
  }

  get mode(): DrawMode {
    return this.drawMode;
  }

  private down(event: L.LeafletMouseEvent): void {
    if (this.drawMode !== 'rectangle') {
      return;
    }
    this.drawing = [event.latlng];
    this.sketch = L.rectangle(L.latLngBounds(event.latlng, event.latlng), AOI).addTo(
      this.map
    );
  }

  private move(event: L.LeafletMouseEvent): void {
    if (this.drawMode === 'rectangle' && this.drawing.length === 1 && this.sketch) {
      (this.sketch as L.Rectangle).setBounds(L.latLngBounds(this.drawing[0], event.latlng));
    } else if (this.drawMode === 'polygon' && this.drawing.length && this.sketch) {
      this.sketch.setLatLngs([...this.drawing, event.latlng]);
    }
  }

  private up(event: L.LeafletMouseEvent): void {
    if (this.drawMode !== 'rectangle' || this.drawing.length !== 1) {
      return;
    }
    const b = L.latLngBounds(this.drawing[0], event.latlng);
    this.startDrawing(null);
    if (b.getNorth() === b.getSouth() || b.getEast() === b.getWest()) {
      return; // a click, not a drag
    }
    this.finish({
      type: 'Polygon',
      coordinates: [
        [
          [b.getWest(), b.getSouth()],
          [b.getEast(), b.getSouth()],
          [b.getEast(), b.getNorth()],
          [b.getWest(), b.getNorth()],
          [b.getWest(), b.getSouth()]
        ]
      ]
    });
  }

  private click(event: L.LeafletMouseEvent): void {
    if (this.drawMode !== 'polygon') {
      return;
    }
    this.drawing.push(event.latlng);
    if (!this.sketch) {
      this.sketch = L.polyline(this.drawing, AOI).addTo(this.map);
    }
    this.sketch.setLatLngs([...this.drawing]);
  }

  private finishPolygon(): void {
    if (this.drawMode !== 'polygon') {
      return;
    }
    // the double-click's two clicks added the last point twice
    const points = this.drawing.filter(
      (p, i) => i === 0 || !p.equals(this.drawing[i - 1])
    );
    this.startDrawing(null);
    if (points.length < 3) {
      return;
    }
    const ring = points.map(p => [p.lng, p.lat]);
    ring.push(ring[0]);
    this.finish({ type: 'Polygon', coordinates: [ring] });
  }

  private finish(geometry: GeoJSON.Polygon): void {
    this.setAoi(geometry);
    this.onAoi?.(geometry);
  }
}

export interface IMapViewProps {
  basemap: string | null;
  onAoi?: (geometry: Geometry | null) => void;
  /** Receives the map once created (and null when it goes). */
  onReady?: (map: EoMap | null) => void;
  className?: string;
}

/** The map as a React component; the parent drives it through the EoMap given to `onReady`. */
export function MapView(props: IMapViewProps): JSX.Element {
  const node = React.useRef<HTMLDivElement>(null);
  const onAoi = React.useRef(props.onAoi);
  onAoi.current = props.onAoi;
  React.useEffect(() => {
    if (!node.current) {
      return;
    }
    const map = new EoMap(node.current, props.basemap, g => onAoi.current?.(g));
    props.onReady?.(map);
    return () => {
      props.onReady?.(null);
      map.dispose();
    };
  }, [props.basemap]);
  return <div ref={node} className={`eopde-Map ${props.className ?? ''}`} />;
}
