import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_VERSION, VERSION } from './version';

/** A request the server refused or could not answer: `message` says what and how to fix;
 * `field` names the wizard's field it belongs to (e.g. `metadata.id`). */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field?: string,
    readonly line?: number,
    readonly cell?: number
  ) {
    super(message);
  }
}

/** Call `/eopde/<route>` through the server connection (works under /user/<name>/).
 * `onResponse` sees the response first (its headers: an ETag); a 304 (asked for with
 * If-None-Match: nothing changed) answers null. */
export async function requestAPI<T>(
  route: string,
  init: RequestInit = {},
  onResponse?: (response: Response) => void
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'eopde', route);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new RequestError(
      'The Jupyter server did not answer; check that it is running and reload the page.',
      0
    );
  }
  onResponse?.(response);
  if (response.status === 304) {
    return null as T;
  }
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    if (response.status === 404 && route === 'version') {
      throw new RequestError(
        'The eopde server extension is not running in this Jupyter server, so the wizard ' +
          'cannot work. Ask for eopde to be installed in the server’s environment ' +
          '(`jupyter server extension list` should show eopde.server enabled), then restart ' +
          'the server.',
        404
      );
    }
    const message =
      (body && body.message) || `The server answered ${response.status}.`;
    throw new RequestError(
      message,
      response.status,
      body?.field,
      body?.line,
      body?.cell
    );
  }
  return body as T;
}

export function post<T>(route: string, body: unknown): Promise<T> {
  return requestAPI<T>(route, { method: 'POST', body: JSON.stringify(body) });
}

/** The version handshake: null when front end and server extension match, else the one
 * message to show. */
export async function checkServer(): Promise<string | null> {
  try {
    const answer = await requestAPI<{ version: string; api: number }>('version');
    if (answer.api !== API_VERSION || answer.version !== VERSION) {
      return (
        `The eopde JupyterLab extension (${VERSION}) and the eopde server extension ` +
        `(${answer.version}) differ, so the wizard is switched off. Restart the Jupyter server ` +
        'and reload this page after installing or upgrading eopde, so that both come from ' +
        'the same version.'
      );
    }
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
