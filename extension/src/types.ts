/** JSON shapes of the server extension's answers and of the wizard state kept in the
 * notebook's metadata (under the one key `eopde`). */

import type { IJob } from './jobs/api';

export interface IParameter {
  name: string;
  input: string;
  type: unknown;
  python_type: string;
  default: unknown;
  optional: boolean;
  eo: string | null;
  json: boolean;
  label: string;
  doc: string;
  documented: boolean;
  line: number;
  cell: number;
  problems: string[];
}

export interface IProblem {
  message: string;
  cell: number | null;
  line: number | null;
}

export interface IDetected {
  parameters: IParameter[];
  cell: number | null;
  problems: IProblem[];
  digest: string | null;
}

export interface IFinding {
  rule: string;
  severity: string;
  message: string;
  where: string;
  fix: string;
  /** whose rule an advice is (eoap-validator, transpiler-mate...) */
  source?: string;
}

export interface IPackaged {
  id: string;
  version: string;
  image: string;
  files: string[];
  warnings: string[];
  requirements: string[];
  cwl: string;
  valid: boolean;
  findings: IFinding[];
  process: unknown;
}

export interface IEdit {
  type?: string;
  label?: string;
  doc?: string;
}

export interface IMetadata {
  id: string;
  label: string;
  description: string;
  version: string;
  author: string;
  affiliation: string;
  license: string;
  keywords: string;
  codeRepository: string;
}

export interface IRuntime {
  image: string;
  cores: string;
  ram: string;
}

export interface IStacItem {
  id: string;
  datetime: string | null;
  bbox: number[] | null;
  collection?: string | null;
  href?: string | null;
  cloud_cover?: number | null;
  assets: string[] | { [key: string]: string };
}

/** A test run as GET /eopde/runs/<id> answers. */
export interface IRunStatus {
  id: string;
  status: string;
  messages: string[];
  log: string;
  offset: number;
  result: {
    status: string;
    message: string;
    problems: string[];
    log_tail: string;
    seconds: number;
    catalog: string | null;
    notebook: string | null;
    items: IStacItem[];
  } | null;
  error: { message: string; field?: string } | null;
}

/** A job's status (eopde.server.ades.status_doc): the jobs panel's IJob, and with `logs: true`
 * each log's text. */
export interface IJobStatus extends IJob {
  step_logs?: { title: string; text: string }[];
}

/** What the notebook's metadata keeps (metadata.eopde). */
export interface IWizardState {
  step: number;
  digest: string | null;
  parameters: { [name: string]: IEdit };
  metadata: IMetadata;
  runtime: IRuntime;
  /** input values of the test run and the execution, as typed */
  inputs: { [name: string]: string };
  /** the ADES (a configured platform's name), the deployed process, the last job */
  ades: string;
  process: string;
  job: string;
}

export const EMPTY_STATE: IWizardState = {
  step: 0,
  digest: null,
  parameters: {},
  metadata: {
    id: '',
    label: '',
    description: '',
    version: '1.0.0',
    author: '',
    affiliation: '',
    license: 'Apache-2.0',
    keywords: '',
    codeRepository: ''
  },
  runtime: { image: '', cores: '1', ram: '2048' },
  inputs: {},
  ades: '',
  process: '',
  job: ''
};

/** A stored state, whatever the notebook's metadata holds (it may be hand-edited). */
export function readState(value: unknown): IWizardState {
  const v = (value && typeof value === 'object' ? value : {}) as any;
  const text = (x: unknown, d: string) => (typeof x === 'string' ? x : d);
  const meta = { ...EMPTY_STATE.metadata };
  for (const key of Object.keys(meta) as (keyof IMetadata)[]) {
    meta[key] = text(v.metadata?.[key], meta[key]);
  }
  const runtime = { ...EMPTY_STATE.runtime };
  for (const key of Object.keys(runtime) as (keyof IRuntime)[]) {
    runtime[key] = text(v.runtime?.[key], runtime[key]);
  }
  const parameters: { [name: string]: IEdit } = {};
  if (v.parameters && typeof v.parameters === 'object') {
    for (const [name, edit] of Object.entries(v.parameters as object)) {
      const e: IEdit = {};
      for (const key of ['type', 'label', 'doc'] as (keyof IEdit)[]) {
        if (typeof (edit as any)?.[key] === 'string') {
          e[key] = (edit as any)[key];
        }
      }
      parameters[name] = e;
    }
  }
  const inputs: { [name: string]: string } = {};
  if (v.inputs && typeof v.inputs === 'object') {
    for (const [name, value] of Object.entries(v.inputs as object)) {
      if (typeof value === 'string') {
        inputs[name] = value;
      }
    }
  }
  const step = Number.isInteger(v.step) && v.step >= 0 && v.step < 9 ? v.step : 0;
  return {
    step,
    digest: typeof v.digest === 'string' ? v.digest : null,
    parameters,
    metadata: meta,
    runtime,
    inputs,
    ades: text(v.ades, ''),
    process: text(v.process, ''),
    job: text(v.job, '')
  };
}
