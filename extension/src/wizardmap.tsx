import React, { useEffect, useRef, useState } from 'react';

import { requestAPI } from './api';
import { BBox, EoMap, geometryBBox, Geometry, MapView } from './map';
import { IStacItem } from './types';

/** The platform's basemap template, asked once (the panels' route; null: none). */
let basemapAsked: Promise<string | null> | null = null;
function basemap(): Promise<string | null> {
  if (!basemapAsked) {
    basemapAsked = requestAPI<{ basemap: string | null }>('catalogue/catalogues')
      .then(answer => answer.basemap ?? null)
      .catch(() => null);
  }
  return basemapAsked;
}

/** Items as GeoJSON footprints: their bbox as a polygon (the wizard's answers carry bboxes). */
export function footprints(items: IStacItem[]): any {
  return {
    type: 'FeatureCollection',
    features: items
      .filter(i => i.bbox && i.bbox.length >= 4)
      .map(i => {
        const [w, s, e, n] = i.bbox as number[];
        return {
          type: 'Feature',
          id: i.id,
          properties: { id: i.id },
          geometry: {
            type: 'Polygon',
            coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]]
          }
        };
      })
  };
}

/** The shared map (map.tsx) showing `items`' footprints; with `onArea`, a button draws an
 * area (a rectangle) whose bbox is given back. */
export function ItemsMap(props: {
  items: IStacItem[];
  label: string;
  onArea?: (bbox: BBox) => void;
  onSelect?: (id: string) => void;
}): JSX.Element {
  const [template, setTemplate] = useState<string | null | undefined>(undefined);
  const map = useRef<EoMap | null>(null);
  const onArea = useRef(props.onArea);
  onArea.current = props.onArea;

  useEffect(() => {
    void basemap().then(setTemplate);
  }, []);
  const show = () =>
    map.current?.setFootprints(footprints(props.items), { onSelect: props.onSelect });
  useEffect(show, [props.items, template]);

  if (template === undefined) {
    return <div className="eopde-MapHolder" />;
  }
  return (
    <figure className="eopde-MapHolder" aria-label={props.label}>
      <MapView
        basemap={template}
        className="eopde-WizardMap"
        onAoi={(g: Geometry | null) => g && onArea.current?.(geometryBBox(g))}
        onReady={m => {
          map.current = m;
          if (m) {
            show();
          }
        }}
      />
      <figcaption>
        {props.label}
        {props.onArea && (
          <button type="button" onClick={() => map.current?.startDrawing('rectangle')}>
            Draw the area on the map
          </button>
        )}
      </figcaption>
    </figure>
  );
}
