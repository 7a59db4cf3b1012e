import React from 'react';

import { IMetadata, IPackaged, IRuntime } from './types';

type Errors = { [field: string]: string };

/** One labelled input; its error (if any) is shown under it and tied to it for screen
 * readers. `name` is the request field (`metadata.id`), which errors name too. */
export function Field(props: {
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  errors: Errors;
  hint?: string;
  placeholder?: string;
  multiline?: boolean;
  inputMode?: 'numeric' | 'text';
  list?: string;
}): JSX.Element {
  const id = `eopde-${props.name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  const error = props.errors[props.name];
  const described = [error ? `${id}-error` : '', props.hint ? `${id}-hint` : '']
    .filter(x => x)
    .join(' ');
  const common = {
    id,
    value: props.value,
    placeholder: props.placeholder,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': described || undefined,
    onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
      props.onChange(e.target.value)
  };
  return (
    <div className={`eopde-Field${error ? ' eopde-invalid' : ''}`} data-field={props.name}>
      <label htmlFor={id}>{props.label}</label>
      {props.multiline ? (
        <textarea rows={3} {...common} />
      ) : (
        <input type="text" inputMode={props.inputMode} list={props.list} {...common} />
      )}
      {props.hint && (
        <div className="eopde-hint" id={`${id}-hint`}>
          {props.hint}
        </div>
      )}
      {error && (
        <div className="eopde-field-error" id={`${id}-error`} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

const META_FIELDS: [keyof IMetadata, string, string, boolean][] = [
  ['id', 'Application id', 'from the notebook’s file name', false],
  ['label', 'Label (title)', 'the notebook’s first heading', false],
  ['description', 'Description', 'the notebook’s first paragraph', true],
  ['version', 'Version', '1.0.0', false],
  ['author', 'Author ("Given Family <email>")', 'your git user.name and email', false],
  ['affiliation', 'Affiliation', 'the author’s organisation', false],
  ['license', 'License (SPDX id or URL)', 'Apache-2.0', false],
  ['keywords', 'Keywords (comma-separated)', 'earth observation, …', false],
  ['codeRepository', 'Code repository (URL)', 'the git remote origin of the notebook’s folder', false]
];

export function MetadataStep(props: {
  values: IMetadata;
  errors: Errors;
  onChange: (key: keyof IMetadata, value: string) => void;
}): JSX.Element {
  return (
    <form className="eopde-form" onSubmit={e => e.preventDefault()}>
      <p>Left empty, a field takes the value shown in grey.</p>
      {META_FIELDS.map(([key, label, placeholder, multiline]) => (
        <Field
          key={key}
          name={`metadata.${key}`}
          label={label}
          value={props.values[key]}
          placeholder={placeholder}
          multiline={multiline}
          errors={props.errors}
          onChange={v => props.onChange(key, v)}
        />
      ))}
    </form>
  );
}

export function RuntimeStep(props: {
  values: IRuntime;
  errors: Errors;
  defaultImage: string;
  onChange: (key: keyof IRuntime, value: string) => void;
}): JSX.Element {
  return (
    <form className="eopde-form" onSubmit={e => e.preventDefault()}>
      <Field
        name="runtime.image"
        label="Container image"
        value={props.values.image || ''}
        placeholder={props.defaultImage || 'localhost/eopde/<id>:<version>'}
        hint={
          'Empty: an image built from this kernel’s environment (the package holds its ' +
          'Dockerfile and pinned requirements.txt). Or the name of an existing image.'
        }
        errors={props.errors}
        onChange={v => props.onChange('image', v)}
      />
      <Field
        name="runtime.cores"
        label="CPU cores"
        value={props.values.cores}
        inputMode="numeric"
        errors={props.errors}
        onChange={v => props.onChange('cores', v)}
      />
      <Field
        name="runtime.ram"
        label="RAM (MiB)"
        value={props.values.ram}
        inputMode="numeric"
        errors={props.errors}
        onChange={v => props.onChange('ram', v)}
      />
    </form>
  );
}

const STEP_OF_FIELD: [string, number][] = [
  ['parameters', 0],
  ['metadata', 1],
  ['runtime', 2]
];

export function ReviewStep(props: {
  packaged: IPackaged | null;
  errors: Errors;
  busy: boolean;
  onGoTo: (step: number) => void;
}): JSX.Element {
  const errors = Object.entries(props.errors);
  if (errors.length) {
    return (
      <div className="eopde-error eopde-Review-errors" role="alert">
        <p>The package cannot be generated yet:</p>
        <ul>
          {errors.map(([field, message]) => {
            const step = STEP_OF_FIELD.find(([p]) => field.startsWith(p));
            return (
              <li key={field}>
                {message}{' '}
                {step && (
                  <button onClick={() => props.onGoTo(step[1])}>Fix it in step {step[1] + 1}</button>
                )}
              </li>
            );
          })}
        </ul>
      </div>
    );
  }
  const p = props.packaged;
  if (!p) {
    return <p>{props.busy ? '' : 'Nothing generated yet.'}</p>;
  }
  return (
    <div className="eopde-Review">
      <p className={p.valid ? 'eopde-valid' : 'eopde-invalid-summary'}>
        {p.valid
          ? `Valid: ${p.id} ${p.version}, image ${p.image}.`
          : `Not valid: ${p.findings.filter(f => f.severity === 'error').length} error(s) ` +
            'stop it from deploying.'}
      </p>
      {p.findings.length > 0 && (
        <section aria-labelledby="eopde-findings-title">
          <h3 id="eopde-findings-title">Validation findings</h3>
          <ul className="eopde-findings">
            {p.findings.map((f, i) => (
              <li key={i} className={`eopde-finding eopde-${f.severity}`}>
                <strong>{f.severity}</strong> [{f.rule}] {f.message}
                <div>where: {f.where}</div>
                {f.fix && <div>fix: {f.fix}</div>}
                {f.source && <div>source: {f.source}</div>}
              </li>
            ))}
          </ul>
        </section>
      )}
      {p.warnings.length > 0 && (
        <section aria-labelledby="eopde-warnings-title">
          <h3 id="eopde-warnings-title">Packaging notes</h3>
          <ul>
            {p.warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </section>
      )}
      <div className="eopde-side-by-side">
        <section aria-labelledby="eopde-cwl-title">
          <h3 id="eopde-cwl-title">CWL ({p.id}.cwl)</h3>
          <pre className="eopde-cwl" tabIndex={0} aria-readonly="true">
            {p.cwl}
          </pre>
        </section>
        <section aria-labelledby="eopde-process-title">
          <h3 id="eopde-process-title">OGC API - Processes description</h3>
          <pre className="eopde-process" tabIndex={0} aria-readonly="true">
            {p.process
              ? JSON.stringify(p.process, null, 2)
              : 'No description: the CWL has errors (see the findings).'}
          </pre>
        </section>
      </div>
    </div>
  );
}
