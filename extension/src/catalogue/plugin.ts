/* The catalogue panel's plugin: the panel in the left sidebar, the user's catalogues in the
 * settings (eopde:catalogue), "Insert as code" into the active notebook, the AOI of the active
 * notebook's map (asked of its kernel), "Use as input" (the wizard's command
 * eopde:use-as-input, handover.ts). */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { KernelMessage } from '@jupyterlab/services';
import { searchIcon } from '@jupyterlab/ui-components';
import type * as GeoJSON from 'geojson';

import { USE_AS_INPUT } from '../handover';
import { ICatalogue } from './api';
import { CataloguePanel } from './panel';

const PLUGIN_ID = 'eopde:catalogue';
/** What the kernel is asked (eopde.maps.panel_aoi: its repr is JSON; loads no map library). */
const AOI_EXPRESSION = "__import__('eopde.maps').maps.panel_aoi()";
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

/** The AOI drawn on an eopde map of the active notebook, asked of its kernel; an Error saying
 * what is missing otherwise. */
export async function notebookAoi(notebooks: INotebookTracker): Promise<GeoJSON.Geometry> {
  const panel = notebooks.currentWidget;
  const kernel = panel?.sessionContext.session?.kernel;
  if (!panel || !kernel) {
    throw new Error('No notebook with a running kernel is active: open the notebook with the map.');
  }
  const reply = (await kernel.requestExecute({
    code: '',
    silent: true,
    store_history: false,
    user_expressions: { aoi: AOI_EXPRESSION }
  }).done) as KernelMessage.IExecuteReplyMsg;
  const answer = (reply.content as any).user_expressions?.aoi;
  if (!answer || answer.status !== 'ok') {
    throw new Error(
      `The kernel of ${panel.context.localPath} could not say (${answer?.ename ?? 'no answer'}): ` +
        'is eopde installed in it?'
    );
  }
  const found = JSON.parse(answer.data['text/plain']) as {
    maps: number;
    aoi: GeoJSON.Geometry | null;
  };
  if (!found.maps) {
    throw new Error(
      `No eopde map in ${panel.context.localPath}: make one (eopde.maps.Map()) and draw an area.`
    );
  }
  if (!found.aoi) {
    throw new Error(
      `The map of ${panel.context.localPath} has no area drawn: draw one with its rectangle ` +
        'or polygon tool.'
    );
  }
  return found.aoi;
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
      insertCode: (code, replace) => insertCode(app, notebooks, code, replace),
      notebookAoi: () => notebookAoi(notebooks),
      useAsInput: async item => {
        // (registered by the wizard's plugin: missing when that plugin is disabled)
        if (!app.commands.hasCommand(USE_AS_INPUT)) {
          throw new Error('The packaging wizard is not enabled in this JupyterLab.');
        }
        return String(
          await app.commands.execute(USE_AS_INPUT, { id: item.id, href: item.href ?? '' })
        );
      }
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
