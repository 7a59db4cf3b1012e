/* The document of a /lab/tree/<path> URL, and when JupyterLab has finished opening it.
 *
 * JupyterLab opens that document twice on a page load: the layout restorer shows it (when the
 * workspace had it open), then, seconds later, the router handles the URL and the file browser
 * opens it again once it has gone to its folder (filebrowser-extension's restoreBrowser:
 * `filebrowser:open-path`, then `docmanager:open`), which activates it again. A wizard opened
 * in between would be covered by its notebook: it comes forward again after that opening.
 * JupyterLab has no promise for it (`app.restored` resolves before the router even runs): the
 * opening is seen as the `docmanager:open` command of that path. */
import { JupyterFrontEnd } from '@jupyterlab/application';

/** Bound on the wait: a URL naming a missing file is never opened. */
const GIVE_UP_MS = 60_000;

/** Watch for the opening of the document the page's URL names: resolves to its path once
 * JupyterLab opened it ('' when the URL names none). Call at plugin activation: the router runs
 * after the layout is restored, when a notebook of the workspace may already be shown. */
export function urlDocumentOpened(
  app: JupyterFrontEnd,
  tree: JupyterFrontEnd.ITreeResolver | null
): Promise<string> {
  if (!tree) {
    return Promise.resolve('');
  }
  return tree.paths.then(
    paths =>
      new Promise<string>(resolve => {
        const file = (paths?.file ?? '').replace(/^\/+/, '');
        if (!file) {
          resolve('');
          return;
        }
        const done = () => {
          app.commands.commandExecuted.disconnect(seen);
          clearTimeout(timer);
          resolve(file);
        };
        const seen = (_: unknown, e: { id: string; args: any; result: Promise<any> }) => {
          const path = String(e.args?.path ?? '').replace(/^\/+/, '');
          if (e.id === 'docmanager:open' && path === file) {
            void e.result.then(done, done);
          }
        };
        const timer = setTimeout(done, GIVE_UP_MS);
        app.commands.commandExecuted.connect(seen);
      })
  );
}
