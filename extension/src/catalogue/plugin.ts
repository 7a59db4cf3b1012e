/* The catalogue panel's plugin: the panel in the left sidebar, the user's catalogues in the
 * settings (eopde:catalogue), "Insert as code" into the active notebook. */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { searchIcon } from '@jupyterlab/ui-components';

import { ICatalogue } from './api';
import { CataloguePanel } from './panel';

const PLUGIN_ID = 'eopde:catalogue';
/** Cell metadata marking the cell the panel inserted (replaced by the next insertion). */
const MARK = 'eopde-catalogue-search';

/** Write `code` into the active notebook (a new one if none is open): into the cell inserted
 * before when `replace` and it is still there, else into a new cell below the active one. */
export async function insertCode(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker,
  code: string,
  replace: boolean
): Promise<void> {
  let panel: NotebookPanel | null = notebooks.currentWidget;
  if (!panel) {
    panel = (await app.commands.execute('notebook:create-new', {
      kernelName: 'eopde'
    })) as NotebookPanel;
  }
  await panel.context.ready;
  app.shell.activateById(panel.id);
  const notebook = panel.content;
  if (replace) {
    const index = notebook.widgets.findIndex(c => c.model.getMetadata(MARK));
    if (index >= 0) {
      notebook.activeCellIndex = index;
      notebook.widgets[index].model.sharedModel.setSource(code);
      return;
    }
  }
  const empty = notebook.widgets.length === 1 && !notebook.widgets[0].model.sharedModel.getSource();
  if (!empty) {
    NotebookActions.insertBelow(notebook);
  }
  const cell = notebook.activeCell!;
  cell.model.sharedModel.setSource(code);
  cell.model.setMetadata(MARK, true);
}

export const cataloguePlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'eopde: the catalogue search panel',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    registry: ISettingRegistry | null
  ) => {
    let settings: ISettingRegistry.ISettings | null = null;
    const userCatalogues = (): ICatalogue[] =>
      ((settings?.composite.catalogues as any[]) ?? []).filter(
        c => c && typeof c.url === 'string'
      );
    const panel = new CataloguePanel({
      userCatalogues,
      addCatalogue: async c => {
        if (!settings) {
          throw new Error('Settings are not available: the catalogue cannot be kept.');
        }
        const kept = userCatalogues().filter(k => k.url !== c.url);
        await settings.set('catalogues', [...kept, c] as any);
      },
      insertCode: (code, replace) => insertCode(app, notebooks, code, replace)
    });
    panel.title.icon = searchIcon;
    app.shell.add(panel, 'left', { rank: 300 });
    if (registry) {
      void registry.load(PLUGIN_ID).then(loaded => {
        settings = loaded;
        loaded.changed.connect(() => panel.update());
        panel.update();
      });
    }
  }
};
