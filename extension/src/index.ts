import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IToolbarWidgetRegistry,
  MainAreaWidget,
  ToolbarButton,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Widget } from '@lumino/widgets';

import { cataloguePlugin } from './catalogue/plugin';
import { addUseAsInput, WizardTracker } from './handover';
import { jobsPlugin } from './jobs/plugin';
import { urlDocumentOpened } from './urlopen';
import { WizardWidget } from './wizard';

const PLUGIN_ID = 'eopde:plugin';
const OPEN = 'eopde:open-wizard';

interface ISettings {
  defaultAdes: string;
  defaultImage: string;
  showToolbarButton: boolean;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'eopde: the notebook to OGC application package wizard',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [
    ICommandPalette,
    IDefaultFileBrowser,
    ISettingRegistry,
    IToolbarWidgetRegistry,
    JupyterFrontEnd.ITreeResolver
  ],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    palette: ICommandPalette | null,
    browser: IDefaultFileBrowser | null,
    registry: ISettingRegistry | null,
    toolbars: IToolbarWidgetRegistry | null,
    tree: JupyterFrontEnd.ITreeResolver | null
  ) => {
    const settings: ISettings = {
      defaultAdes: '',
      defaultImage: '',
      showToolbarButton: true
    };
    const buttons = new Set<Widget>();
    const urlDocument = urlDocumentOpened(app, tree);
    const wizards: WizardTracker = new WidgetTracker({ namespace: 'eopde-wizard' });

    const open = async (panel: NotebookPanel) => {
      await panel.context.ready;
      const existing = wizards.find(w => w.content.path === panel.context.path);
      if (existing) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const content = new WizardWidget({
        panel,
        defaultImage: settings.defaultImage,
        defaultAdes: settings.defaultAdes
      });
      const widget = new MainAreaWidget({ content });
      widget.id = content.id;
      widget.title.label = content.title.label;
      widget.title.closable = true;
      void wizards.add(widget);
      app.shell.add(widget, 'main', { mode: 'tab-after', ref: panel.id });
      app.shell.activateById(widget.id);
      // no second activation later: the command palette's hand-back of the focus as it closes
      // (Widget.activate of the notebook) leaves a notebook behind the wizard's tab where it is,
      // and a delayed one would override a tab the user picks meanwhile

      // JupyterLab activates the notebook a page's URL names again once it has opened that
      // URL, seconds after showing it (urlopen.ts): the wizard comes forward again then
      void urlDocument.then(path => {
        if (path === panel.context.path && !widget.isDisposed) {
          app.shell.activateById(widget.id);
        }
      });
      return widget;
    };

    app.commands.addCommand(OPEN, {
      label: args =>
        args.path || args.fromBrowser
          ? 'Package as an Application…'
          : 'Package Notebook as an OGC Application…',
      caption: 'Turn this notebook into an OGC EO Application Package (CWL)',
      isEnabled: args =>
        !!args.path || !!args.fromBrowser || notebooks.currentWidget !== null,
      execute: async args => {
        let path = args.path as string | undefined;
        if (!path && args.fromBrowser && browser) {
          const item = browser.selectedItems().next();
          path = item && !item.done ? item.value.path : undefined;
        }
        let panel: NotebookPanel | null = notebooks.currentWidget;
        if (path) {
          panel = (await app.commands.execute('docmanager:open', {
            path,
            factory: 'Notebook'
          })) as NotebookPanel;
        }
        if (panel) {
          return open(panel);
        }
      }
    });
    // the file browser's context menu (schema/plugin.json) passes no path: read the selection
    app.contextMenu.addItem({
      command: OPEN,
      args: { fromBrowser: true },
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 20
    });
    palette?.addItem({ command: OPEN, category: 'Notebook Operations' });
    addUseAsInput(app, notebooks, wizards);

    toolbars?.addFactory<NotebookPanel>('Notebook', 'eopde-package', panel => {
      const button = new ToolbarButton({
        label: 'Package',
        tooltip: 'Package this notebook as an OGC application (eopde)',
        onClick: () => void open(panel)
      });
      button.addClass('eopde-ToolbarButton');
      button.setHidden(!settings.showToolbarButton);
      buttons.add(button);
      button.disposed.connect(() => buttons.delete(button));
      return button;
    });

    if (registry) {
      void registry.load(PLUGIN_ID).then(loaded => {
        const apply = () => {
          const c = loaded.composite as any;
          settings.defaultAdes = String(c.defaultAdes ?? '');
          settings.defaultImage = String(c.defaultImage ?? '');
          settings.showToolbarButton = c.showToolbarButton !== false;
          buttons.forEach(b => b.setHidden(!settings.showToolbarButton));
        };
        apply();
        loaded.changed.connect(apply);
      });
    }
  }
};

export default [plugin, cataloguePlugin, jobsPlugin];
