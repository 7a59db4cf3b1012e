import { ReactWidget } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { checkServer, post, RequestError } from './api';
import { IOffer, IOfferedItem } from './inputs';
import { ParametersStep } from './parameters';
import {
  IDetected,
  IEdit,
  IMetadata,
  IPackaged,
  IRuntime,
  IWizardState,
  readState
} from './types';
import { DeployStep, ExecuteStep, MonitorStep, PublishStep } from './platform';
import { MetadataStep, ReviewStep, RuntimeStep } from './steps';
import { TestRunStep } from './testrun';

export const STEPS = [
  'Parameters',
  'Metadata',
  'Runtime',
  'Review',
  'Test run',
  'Deploy',
  'Execute',
  'Monitor',
  'Publish'
];
/** The steps whose form has the STAC item inputs an offered item goes into. */
export const TEST_RUN = 4;
export const EXECUTE = 6;
/** Steps offered (all of them since steps 5-9 came). */
export const AVAILABLE = 9;
const DEBOUNCE_MS = 500;

export interface IWizardOptions {
  panel: NotebookPanel;
  defaultImage: string;
  defaultAdes?: string;
}

/** The step an item offered by the catalogue panel takes the wizard to: the one shown when it
 * has item inputs, else Execute once a process is deployed, else the Test run. */
export function offerStep(state: IWizardState): number {
  const deployed = !!(state.process && state.ades);
  if (state.step === TEST_RUN || (state.step === EXECUTE && deployed)) {
    return state.step;
  }
  return deployed ? EXECUTE : TEST_RUN;
}

/** The packaging wizard of one notebook, in the main area. */
export class WizardWidget extends ReactWidget {
  constructor(private options: IWizardOptions) {
    super();
    this.addClass('eopde-Wizard');
    this.id = `eopde-wizard-${Private.id++}`;
    this.title.label = `Package ${options.panel.context.localPath.split('/').pop()}`;
    this.title.closable = true;
    options.panel.disposed.connect(() => this.dispose());
  }

  /** The notebook's path in the file browser. */
  get path(): string {
    return this.options.panel.context.path;
  }

  /** Hand `item` to the item inputs: the wizard goes to the step that has them (returned) and
   * fills the one item input there, or asks which when there are several. */
  offer(item: IOfferedItem): number {
    this.offered = item;
    this.listener?.(item);
    return offerStep(readState(this.options.panel.model?.getMetadata('eopde')));
  }

  render(): JSX.Element {
    return (
      <Wizard
        {...this.options}
        onOffer={listener => {
          this.listener = listener;
          // an item offered before the first rendering
          if (this.offered) {
            listener(this.offered);
          }
          return () => {
            this.listener = null;
          };
        }}
        offerTaken={() => {
          this.offered = null;
        }}
      />
    );
  }

  private offered: IOfferedItem | null = null;
  private listener: ((item: IOfferedItem) => void) | null = null;
}

namespace Private {
  export let id = 0;
}

/** Request body fields from the wizard state (only what the user set; an empty image is the
 * `defaultImage` setting when there is one). */
export function packageBody(path: string, state: IWizardState, defaultImage = ''): any {
  const meta: any = {};
  for (const [key, value] of Object.entries(state.metadata)) {
    if (key === 'keywords') {
      const words = (value as string)
        .split(',')
        .map(w => w.trim())
        .filter(w => w);
      if (words.length) {
        meta.keywords = words;
      }
    } else if ((value as string).trim()) {
      meta[key] = (value as string).trim();
    }
  }
  const runtime: any = {};
  const image = state.runtime.image.trim() || defaultImage.trim();
  if (image) {
    runtime.image = image;
  }
  for (const key of ['cores', 'ram'] as const) {
    const text = state.runtime[key].trim();
    if (text) {
      runtime[key] = /^\d+$/.test(text) ? Number(text) : text;
    }
  }
  return { path, parameters: cleanEdits(state.parameters), metadata: meta, runtime };
}

function Wizard(
  props: IWizardOptions & {
    /** Call `listener` with each item offered (returns the unsubscription). */
    onOffer: (listener: (item: IOfferedItem) => void) => () => void;
    offerTaken: () => void;
  }
): JSX.Element {
  const { panel } = props;
  const path = panel.context.path;
  const [blocked, setBlocked] = useState<string | null>(null);
  const [state, setState] = useState<IWizardState>(() =>
    readState(panel.model?.getMetadata('eopde'))
  );
  const [detected, setDetected] = useState<IDetected | null>(null);
  const [changedNotice, setChangedNotice] = useState(false);
  const [packaged, setPackaged] = useState<IPackaged | null>(null);
  const [busy, setBusy] = useState('');
  const [fieldErrors, setFieldErrors] = useState<{ [field: string]: string }>({});
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const started = useRef(false);
  const [runId, setRunId] = useState('');
  const [offered, setOffered] = useState<IOfferedItem | null>(null);
  // the state of the last rendering, for what runs after an await or from outside React
  const latest = useRef(state);
  latest.current = state;

  const keep = (next: IWizardState) => {
    latest.current = next;
    setState(next);
    const model = panel.model;
    if (model && JSON.stringify(model.getMetadata('eopde')) !== JSON.stringify(next)) {
      model.setMetadata('eopde', next as any);
    }
  };

  const detect = async (edits: { [name: string]: IEdit }) => {
    setBusy('Reading the parameters cell…');
    try {
      const found = await post<IDetected>('parameters', {
        path,
        parameters: cleanEdits(edits)
      });
      setDetected(found);
      setFieldErrors(errs => dropPrefix(errs, 'parameters'));
      setError(e => (e && (e.field ?? '').startsWith('parameters') ? null : e));
      return found;
    } catch (e) {
      showError(e);
      return null;
    } finally {
      setBusy('');
    }
  };

  const showError = (e: unknown) => {
    const err = e as RequestError;
    if (err.field) {
      setFieldErrors(errs => ({ ...errs, [err.field as string]: err.message }));
    }
    setError({ message: err.message, field: err.field });
  };

  /** Open: handshake, save unsaved edits (the server reads the file), detect. */
  const start = async (dropEdits: boolean) => {
    const problem = await checkServer();
    if (problem) {
      setBlocked(problem);
      return;
    }
    if (panel.context.model.dirty) {
      await panel.context.save();
    }
    const plain = await detect({});
    if (!plain) {
      return;
    }
    // the state now, not as it was when the detection started: the user (or an item from
    // the catalogue panel) may have changed it meanwhile
    const now = latest.current;
    const names = new Set(plain.parameters.map(p => p.name));
    const stored = dropEdits ? {} : now.parameters;
    const edits: { [name: string]: IEdit } = {};
    for (const [name, edit] of Object.entries(stored)) {
      if (names.has(name)) {
        edits[name] = edit;
      }
    }
    setChangedNotice(
      !dropEdits && now.digest !== null && now.digest !== plain.digest
    );
    keep({ ...now, parameters: edits, digest: plain.digest });
    if (Object.keys(edits).length) {
      await detect(edits);
    }
  };

  useEffect(() => {
    if (!started.current) {
      started.current = true;
      void start(false);
    }
  }, []);

  // An item from the catalogue panel: to the step with the item inputs, kept until a form
  // takes it (the Test run's form waits for the package, the Execute's for the description).
  useEffect(
    () =>
      props.onOffer(item => {
        setOffered(item);
        const now = latest.current;
        const step = offerStep(now);
        if (step !== now.step) {
          setError(null);
          keep({ ...now, step });
        }
      }),
    []
  );
  // one object per item: the forms act (fill, focus their choice) when it changes
  const offer = useMemo<IOffer | null>(
    () =>
      offered && {
        item: offered,
        done: () => {
          setOffered(null);
          props.offerTaken();
        }
      },
    [offered]
  );

  // Parameters: re-detect with the edits shortly after the last keystroke.
  const editsKey = JSON.stringify(state.parameters);
  useDebounced(
    () => {
      if (detected && !blocked) {
        void detect(state.parameters);
      }
    },
    [editsKey]
  );

  // Review: regenerate whenever a field changes while it is shown.
  const stateKey = JSON.stringify([state.parameters, state.metadata, state.runtime]);
  useDebounced(
    () => {
      // the Review shows it; the Test run needs its process description
      if ((state.step === 3 || state.step === 4) && !blocked && detected) {
        void generate();
      }
    },
    [stateKey, state.step, detected !== null]
  );

  const generate = async () => {
    setBusy('Generating the application package…');
    setError(null);
    try {
      const result = await post<IPackaged>('package', packageBody(path, state, props.defaultImage));
      setPackaged(result);
      setFieldErrors({});
    } catch (e) {
      setPackaged(null);
      showError(e);
    } finally {
      setBusy('');
    }
  };

  const setEdit = (name: string, key: keyof IEdit, value: string) => {
    const edit = { ...(state.parameters[name] || {}), [key]: value };
    // label and doc make one comment: an edit of one keeps the other as shown
    const shown = detected?.parameters.find(p => p.name === name);
    if (shown && key !== 'type') {
      edit.label = edit.label ?? shown.label;
      edit.doc = edit.doc ?? shown.doc;
    }
    keep({ ...state, parameters: { ...state.parameters, [name]: edit } });
  };
  const setMeta = (key: keyof IMetadata, value: string) => {
    setFieldErrors(errs => dropPrefix(errs, `metadata.${key}`));
    keep({ ...state, metadata: { ...state.metadata, [key]: value } });
  };
  const setRuntime = (key: keyof IRuntime, value: string) => {
    setFieldErrors(errs => dropPrefix(errs, `runtime.${key}`));
    keep({ ...state, runtime: { ...state.runtime, [key]: value } });
  };
  const setInput = (name: string, value: string) =>
    keep({ ...state, inputs: { ...state.inputs, [name]: value } });
  const body = () => packageBody(path, state, props.defaultImage);
  const goTo = (step: number) => {
    setError(null);
    keep({ ...state, step });
  };

  if (blocked) {
    return (
      <div className="eopde-Wizard-blocked" role="alert">
        {blocked}
      </div>
    );
  }
  return (
    <div className="eopde-Wizard-body">
      <nav aria-label="Wizard steps" className="eopde-Wizard-steps">
        <ol>
          {STEPS.map((title, i) => (
            <li key={title}>
              <button
                className={i === state.step ? 'eopde-current' : ''}
                aria-current={i === state.step ? 'step' : undefined}
                disabled={i >= AVAILABLE}
                title={i >= AVAILABLE ? 'Not yet available in this version' : title}
                onClick={() => goTo(i)}
              >
                {i + 1}. {title}
                {i >= AVAILABLE && (
                  <span className="eopde-soon"> (not yet available)</span>
                )}
              </button>
            </li>
          ))}
        </ol>
      </nav>
      <main className="eopde-Wizard-step" aria-labelledby="eopde-step-title">
        <h2 id="eopde-step-title">
          {state.step + 1}. {STEPS[state.step]}
        </h2>
        <div className="eopde-status" role="status" aria-live="polite">
          {busy}
        </div>
        {changedNotice && (
          <div className="eopde-notice" role="alert">
            The notebook’s parameters cell changed since you last used the wizard. Your edits
            were kept for the parameters still there.{' '}
            <button onClick={() => void start(true).then(() => setChangedNotice(false))}>
              Detect again without my edits
            </button>
          </div>
        )}
        {error && !shownOnStep(error.field, state.step) && (
          <div className="eopde-error" role="alert">
            {error.message}
          </div>
        )}
        {state.step === 0 && (
          <ParametersStep
            detected={detected}
            edits={state.parameters}
            errors={fieldErrors}
            onEdit={setEdit}
            onRedetect={() => void start(false)}
          />
        )}
        {state.step === 1 && (
          <MetadataStep values={state.metadata} errors={fieldErrors} onChange={setMeta} />
        )}
        {state.step === 2 && (
          <RuntimeStep
            values={state.runtime}
            errors={fieldErrors}
            defaultImage={props.defaultImage}
            onChange={setRuntime}
          />
        )}
        {state.step === 3 && (
          <ReviewStep
            packaged={packaged}
            errors={fieldErrors}
            busy={busy !== ''}
            onGoTo={goTo}
          />
        )}
        {state.step === 4 && (
          <TestRunStep
            path={path}
            body={body}
            packaged={packaged}
            values={state.inputs}
            onChange={setInput}
            runId={runId}
            setRunId={setRunId}
            offer={offer}
          />
        )}
        {state.step === 5 && (
          <DeployStep
            body={body}
            ades={state.ades}
            defaultAdes={props.defaultAdes ?? ''}
            onDeployed={(ades, process) => keep({ ...state, ades, process })}
          />
        )}
        {state.step === 6 && (
          <ExecuteStep
            ades={state.ades}
            process={state.process}
            values={state.inputs}
            onChange={setInput}
            onStarted={job => keep({ ...state, job, step: 7 })}
            offer={offer}
          />
        )}
        {state.step === 7 && <MonitorStep ades={state.ades} job={state.job} />}
        {state.step === 8 && <PublishStep ades={state.ades} job={state.job} />}
        <div className="eopde-Wizard-nav">
          <button disabled={state.step === 0} onClick={() => goTo(state.step - 1)}>
            Back
          </button>
          <button
            className="jp-mod-accept"
            disabled={state.step >= AVAILABLE - 1}
            onClick={() => goTo(state.step + 1)}
          >
            Next
          </button>
        </div>
      </main>
    </div>
  );
}

/** Whether the current step shows an error of `field` next to that field (the Review lists
 * every field's error). */
function shownOnStep(field: string | undefined, step: number): boolean {
  if (!field) {
    return false;
  }
  const prefixes = ['parameters.', 'metadata.', 'runtime.'];
  return step === 3 || (step < 3 && field.startsWith(prefixes[step]));
}

/** The edits without empty fields (an emptied field means "as detected"). */
export function cleanEdits(edits: { [name: string]: IEdit }): { [name: string]: IEdit } {
  const clean: { [name: string]: IEdit } = {};
  for (const [name, edit] of Object.entries(edits)) {
    const kept: IEdit = {};
    for (const key of ['type', 'label', 'doc'] as (keyof IEdit)[]) {
      const value = edit[key];
      if (typeof value === 'string' && value.trim()) {
        kept[key] = value;
      }
    }
    if (Object.keys(kept).length) {
      clean[name] = kept;
    }
  }
  return clean;
}

function dropPrefix(errors: { [f: string]: string }, prefix: string) {
  const kept: { [f: string]: string } = {};
  for (const [k, v] of Object.entries(errors)) {
    if (!k.startsWith(prefix)) {
      kept[k] = v;
    }
  }
  return kept;
}

/** Run `fn` DEBOUNCE_MS after the last change of `deps` (not on the first render). */
function useDebounced(fn: () => void, deps: unknown[]): void {
  const first = useRef(true);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const timer = setTimeout(() => latest.current(), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, deps);
}

