import React from 'react';

import { Field } from './steps';
import { IDetected, IEdit, IParameter } from './types';

/** Types the library reads from an annotation (eopde.apppkg.parameters). */
const TYPE_SUGGESTIONS = [
  'str',
  'int',
  'float',
  'bool',
  'list[str]',
  'list[int]',
  'list[float]',
  'str | None',
  'int | None',
  'float | None',
  'dict',
  'Literal["a", "b"]',
  'StacItem',
  'list[StacItem]',
  'StacCollection'
];

/** How the notebook marks an EO input (the detected Python type of one is `str`). */
const EO_TYPES: { [eo: string]: string } = {
  item: 'StacItem',
  items: 'list[StacItem]',
  collection: 'StacCollection'
};

const EO_NAMES: { [eo: string]: string } = {
  item: 'STAC item',
  items: 'STAC items',
  collection: 'STAC collection'
};

export function ParametersStep(props: {
  detected: IDetected | null;
  edits: { [name: string]: IEdit };
  errors: { [field: string]: string };
  onEdit: (name: string, key: keyof IEdit, value: string) => void;
  onRedetect: () => void;
}): JSX.Element {
  const d = props.detected;
  if (!d) {
    return <p>Reading the notebook…</p>;
  }
  const unplaced = d.problems.filter(
    p => !d.parameters.some(q => q.line === p.line)
  );
  return (
    <div className="eopde-Parameters">
      <p>
        {d.parameters.length} parameter(s) found in{' '}
        {d.cell !== null && d.cell >= 0 ? `cell ${d.cell}` : 'no cell'} (the cell tagged
        <code> parameters</code>). Types, labels and docs edited here are written into the
        package, not into your notebook’s code.{' '}
        <button onClick={props.onRedetect}>Detect again</button>
      </p>
      <datalist id="eopde-types">
        {TYPE_SUGGESTIONS.map(t => (
          <option key={t} value={t} />
        ))}
      </datalist>
      {unplaced.length > 0 && (
        <ul className="eopde-problems" aria-label="Problems in the parameters cell">
          {unplaced.map((p, i) => (
            <li key={i} className="eopde-field-error">
              {where(p.cell, p.line)}
              {p.message}
            </li>
          ))}
        </ul>
      )}
      {d.parameters.map(p => (
        <ParameterCard
          key={p.name}
          p={p}
          edit={props.edits[p.name] || {}}
          errors={props.errors}
          onEdit={props.onEdit}
        />
      ))}
    </div>
  );
}

function where(cell: number | null, line: number | null): string {
  if (cell === null || cell < 0) {
    return '';
  }
  return line ? `cell ${cell}, line ${line}: ` : `cell ${cell}: `;
}

function ParameterCard(props: {
  p: IParameter;
  edit: IEdit;
  errors: { [field: string]: string };
  onEdit: (name: string, key: keyof IEdit, value: string) => void;
}): JSX.Element {
  const { p, edit } = props;
  const base = `parameters.${p.name}`;
  const detectedType = (p.eo && EO_TYPES[p.eo]) || p.python_type;
  // the library's problems on this parameter's line belong to its type field
  const errors = { ...props.errors };
  if (p.problems.length && !errors[`${base}.type`]) {
    errors[`${base}.type`] = p.problems
      .map(m => `cell ${p.cell}, ${m}`)
      .join('\n');
  }
  return (
    <fieldset className="eopde-Parameter" data-parameter={p.name}>
      <legend>
        <code>{p.name}</code>{' '}
        {p.eo && <span className="eopde-eo">EO input: {EO_NAMES[p.eo] || p.eo}</span>}{' '}
        <span className="eopde-where">
          cell {p.cell}, line {p.line}
        </span>
      </legend>
      <div className="eopde-detected">
        Detected: <code>{detectedType}</code>
        {p.default !== null && p.eo === null && (
          <>
            {' '}
            = <code>{JSON.stringify(p.default)}</code>
          </>
        )}
      </div>
      <Field
        name={`${base}.type`}
        label={`Type of ${p.name}`}
        value={edit.type ?? ''}
        placeholder={detectedType}
        list="eopde-types"
        errors={errors}
        onChange={v => props.onEdit(p.name, 'type', v)}
      />
      <Field
        name={`${base}.label`}
        label={`Label of ${p.name}`}
        value={edit.label ?? p.label}
        errors={props.errors}
        onChange={v => props.onEdit(p.name, 'label', v)}
      />
      <Field
        name={`${base}.doc`}
        label={`Documentation of ${p.name}`}
        value={edit.doc ?? p.doc}
        multiline={false}
        errors={props.errors}
        onChange={v => props.onEdit(p.name, 'doc', v)}
      />
    </fieldset>
  );
}
