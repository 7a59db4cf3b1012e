import React, { useEffect, useRef, useState } from 'react';

import { post, RequestError } from './api';
import { Field } from './steps';
import { IStacItem } from './types';
import { ItemsMap } from './wizardmap';

type Errors = { [field: string]: string };
type Values = { [name: string]: string };

/** A STAC item handed over by the catalogue panel ("Use as input"). */
export interface IOfferedItem {
  id: string;
  href: string;
}

/** An item on offer to a form, and what to call once it went into an input (or was turned
 * down). */
export interface IOffer {
  item: IOfferedItem;
  done: () => void;
}

/** One input of an OGC API - Processes description (eopde.apppkg.describe's shape). */
interface IOgcInput {
  title?: string;
  description?: string;
  schema?: any;
  minOccurs?: number;
}

/** The schema of an input without its nullable wrapping (`anyOf` with null). */
function plain(schema: any): any {
  if (schema && Array.isArray(schema.anyOf)) {
    const kept = schema.anyOf.filter((s: any) => s && s.type !== 'null');
    return kept.length === 1 ? kept[0] : schema;
  }
  return schema || {};
}

/** Whether an input takes a STAC item URL (a CWL Directory/File: a URI). */
export function isItemInput(schema: any): boolean {
  const s = plain(schema);
  return s.type === 'string' && s.format === 'uri';
}

/** The text a field shows for the schema's default. */
function defaultText(schema: any): string {
  const s = plain(schema);
  const d = s.default ?? schema?.default;
  if (d === undefined || d === null) {
    return '';
  }
  return Array.isArray(d) ? d.join(', ') : String(d);
}

/** The form's texts as JSON values of the schema; errors by field (`inputs.<name>`). */
export function inputValues(
  inputs: { [name: string]: IOgcInput },
  values: Values
): { values: { [name: string]: unknown }; errors: Errors } {
  const out: { [name: string]: unknown } = {};
  const errors: Errors = {};
  for (const [name, input] of Object.entries(inputs)) {
    const text = (values[name] ?? '').trim();
    const s = plain(input.schema);
    if (!text) {
      if ((input.minOccurs ?? 1) > 0 && defaultText(input.schema) === '' && s.type !== 'boolean') {
        errors[`inputs.${name}`] = 'Required: give a value.';
      }
      continue;
    }
    if (s.type === 'integer' || s.type === 'number') {
      const n = Number(text);
      if (!Number.isFinite(n) || (s.type === 'integer' && !Number.isInteger(n))) {
        errors[`inputs.${name}`] = `Not ${s.type === 'integer' ? 'a whole number' : 'a number'}: ${text}`;
        continue;
      }
      out[name] = n;
    } else if (s.type === 'boolean') {
      out[name] = text === 'true';
    } else if (s.type === 'array') {
      const parts = text.split(',').map(p => p.trim()).filter(p => p);
      const t = s.items?.type;
      out[name] = t === 'number' || t === 'integer' ? parts.map(Number) : parts;
    } else if (s.type === 'object') {
      try {
        out[name] = JSON.parse(text);
      } catch {
        errors[`inputs.${name}`] = 'Not JSON: write the object as JSON.';
      }
    } else {
      out[name] = text;
    }
  }
  return { values: out, errors };
}

/** A form generated from a process description's inputs: an enum is a list, a boolean a
 * checkbox, a URI (STAC item) a field with an item picker searching the catalogue. An item
 * offered by the catalogue panel goes into the form's one item input at once; with several,
 * the form asks which (OfferChoice). */
export function InputsForm(props: {
  inputs: { [name: string]: IOgcInput };
  values: Values;
  errors: Errors;
  onChange: (name: string, value: string) => void;
  offer?: IOffer | null;
}): JSX.Element {
  const [picking, setPicking] = useState<string | null>(null);
  // the item input the user was in last: where an item offered afterwards most likely goes
  const lastFocused = useRef<string | null>(null);
  const offer = props.offer ?? null;
  const itemInputs = Object.entries(props.inputs)
    .filter(([, input]) => isItemInput(input.schema))
    .map(([name]) => name);
  const take = (name: string) => {
    if (offer) {
      props.onChange(name, offer.item.href);
      offer.done();
    }
  };
  useEffect(() => {
    if (offer && itemInputs.length === 1) {
      take(itemInputs[0]);
    }
  }, [offer, itemInputs.join(',')]);
  return (
    <form className="eopde-form eopde-Inputs" onSubmit={e => e.preventDefault()}>
      {offer && itemInputs.length !== 1 && (
        <OfferChoice
          offer={offer}
          inputs={itemInputs.map(name => ({
            name,
            title: props.inputs[name].title || name,
            empty: !(props.values[name] ?? '').trim()
          }))}
          preferred={lastFocused.current}
          onTake={take}
        />
      )}
      {Object.entries(props.inputs).map(([name, input]) => {
        const s = plain(input.schema);
        const field = `inputs.${name}`;
        const label = `${input.title || name} (${name})`;
        const value = props.values[name] ?? '';
        const id = `eopde-${field.replace(/[^A-Za-z0-9_-]/g, '-')}`;
        const error = props.errors[field];
        if (Array.isArray(s.enum) || s.type === 'boolean') {
          const options = s.type === 'boolean' ? ['true', 'false'] : s.enum.map(String);
          return (
            <div key={name} className={`eopde-Field${error ? ' eopde-invalid' : ''}`}
              data-field={field}>
              <label htmlFor={id}>{label}</label>
              <select id={id} value={value || defaultText(input.schema)}
                aria-invalid={error ? true : undefined}
                onChange={e => props.onChange(name, e.target.value)}>
                {options.map((o: string) => (
                  <option key={o} value={o}>{o}</option>
                ))}
              </select>
              {input.description && <div className="eopde-hint">{input.description}</div>}
              {error && <div className="eopde-field-error" role="alert">{error}</div>}
            </div>
          );
        }
        return (
          <div key={name} className="eopde-Input" data-input={name}
            onFocus={() => {
              if (isItemInput(input.schema)) {
                lastFocused.current = name;
              }
            }}>
            <Field
              name={field}
              label={label}
              value={value}
              placeholder={defaultText(input.schema) || (isItemInput(input.schema)
                ? 'a STAC item URL' : '')}
              hint={input.description}
              inputMode={s.type === 'integer' || s.type === 'number' ? 'numeric' : 'text'}
              errors={props.errors}
              onChange={v => props.onChange(name, v)}
            />
            {isItemInput(input.schema) && (
              <button type="button" aria-expanded={picking === name}
                onClick={() => setPicking(picking === name ? null : name)}>
                {picking === name ? 'Close the item picker' : `Pick a STAC item for ${name}…`}
              </button>
            )}
            {picking === name && (
              <ItemPicker
                name={name}
                onPick={href => {
                  props.onChange(name, href);
                  setPicking(null);
                }}
              />
            )}
          </div>
        );
      })}
    </form>
  );
}

/** Which item input an offered item goes into, asked when the form has several (a wrong guess
 * between, say, a pre- and a post-event scene would run for minutes on the wrong data): one
 * button per input, the likely one focused (the item input the user was in last, else the
 * first empty one) so that Enter takes it. None: the form says it has no item input. */
function OfferChoice(props: {
  offer: IOffer;
  inputs: { name: string; title: string; empty: boolean }[];
  preferred: string | null;
  onTake: (name: string) => void;
}): JSX.Element {
  const likely =
    props.inputs.find(i => i.name === props.preferred) ??
    props.inputs.find(i => i.empty) ??
    props.inputs[0];
  const focus = useRef<HTMLButtonElement | null>(null);
  useEffect(() => {
    focus.current?.scrollIntoView({ block: 'nearest' });
    focus.current?.focus();
  }, [props.offer]);
  const { id } = props.offer.item;
  if (!props.inputs.length) {
    return (
      <div className="eopde-notice eopde-Offer" role="alert">
        {id} (from the catalogue panel) cannot be used here: these inputs take no STAC item.{' '}
        <button type="button" onClick={props.offer.done}>Dismiss</button>
      </div>
    );
  }
  return (
    <div className="eopde-notice eopde-Offer" role="group"
      aria-label={`Use ${id} from the catalogue panel as`}>
      <p>Use {id} (from the catalogue panel) as:</p>
      {props.inputs.map(input => (
        <button type="button" key={input.name}
          ref={input.name === likely.name ? focus : undefined}
          className={input.name === likely.name ? 'jp-mod-accept' : ''}
          onClick={() => props.onTake(input.name)}>
          {input.title} ({input.name}){input.empty ? '' : ', replacing its value'}
        </button>
      ))}
      <button type="button" onClick={props.offer.done}>Not now</button>
    </div>
  );
}

/** A catalogue search (the platform's STAC API, through the server) listing items to pick. */
export function ItemPicker(props: {
  name: string;
  onPick: (href: string) => void;
}): JSX.Element {
  const [query, setQuery] = useState({ collections: 'sentinel-2-l2a', bbox: '', datetime: '' });
  const [items, setItems] = useState<IStacItem[] | null>(null);
  const [error, setError] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const search = async () => {
    const body: any = { limit: 20 };
    if (query.collections.trim()) {
      body.collections = query.collections.split(',').map(c => c.trim()).filter(c => c);
    }
    if (query.bbox.trim()) {
      const parts = query.bbox.split(',').map(Number);
      if (parts.length !== 4 || parts.some(p => !Number.isFinite(p))) {
        setError({ 'search.bbox': 'Four numbers: west, south, east, north (degrees).' });
        return;
      }
      body.bbox = parts;
    }
    if (query.datetime.trim()) {
      body.datetime = query.datetime.trim();
    }
    setBusy(true);
    setError({});
    try {
      setItems((await post<{ items: IStacItem[] }>('search', body)).items);
    } catch (e) {
      setError({ 'search.collections': (e as RequestError).message });
    } finally {
      setBusy(false);
    }
  };
  const set = (key: keyof typeof query) => (v: string) => setQuery({ ...query, [key]: v });
  return (
    <section className="eopde-Picker" aria-label={`STAC items for ${props.name}`}>
      <Field name="search.collections" label="Collections (comma-separated)"
        value={query.collections} errors={error} onChange={set('collections')} />
      <Field name="search.bbox" label="Area (west, south, east, north)" value={query.bbox}
        placeholder="e.g. 12.0, 43.0, 12.5, 43.5" errors={error} onChange={set('bbox')} />
      <Field name="search.datetime" label="Dates (e.g. 2025-06-01/2025-06-30)"
        value={query.datetime} errors={error} onChange={set('datetime')} />
      <button type="button" onClick={() => void search()} disabled={busy}>
        {busy ? 'Searching…' : 'Search the catalogue'}
      </button>
      <ItemsMap
        items={items ?? []}
        label="Found items; draw an area to fill in the Area field"
        onArea={b => setQuery(q => ({ ...q, bbox: b.map(v => v.toFixed(4)).join(', ') }))}
        onSelect={id => {
          const item = (items ?? []).find(i => i.id === id);
          if (item?.href) {
            props.onPick(item.href);
          }
        }}
      />
      {items && items.length === 0 && <p>No item matches.</p>}
      {items && items.length > 0 && (
        <table className="eopde-items">
          <caption>{items.length} item(s): choose one</caption>
          <thead>
            <tr><th>Item</th><th>Date</th><th>Cloud cover</th><th></th></tr>
          </thead>
          <tbody>
            {items.map(item => (
              <tr key={item.href || item.id}>
                <td><code>{item.id}</code></td>
                <td>{item.datetime}</td>
                <td>{item.cloud_cover ?? ''}</td>
                <td>
                  <button type="button" disabled={!item.href}
                    onClick={() => item.href && props.onPick(item.href)}
                    aria-label={`Use ${item.id}`}>
                    Use
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
