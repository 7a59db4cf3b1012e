/* The jobs panel's plugin: the panel in the left sidebar; its settings (eopde:jobs); the
 * page's job watcher (notifications when a job started here ends, panel opened or not). */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { listIcon } from '@jupyterlab/ui-components';

import { JobsPanel } from './panel';
import { watcher } from './watch';

const PLUGIN_ID = 'eopde:jobs';

export const jobsPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'eopde: the ADES jobs panel',
  autoStart: true,
  optional: [ISettingRegistry],
  activate: (app: JupyterFrontEnd, registry: ISettingRegistry | null) => {
    let refresh = 3;
    const panel = new JobsPanel({
      refreshSeconds: () => refresh,
      open: widget => {
        const existing = [...app.shell.widgets('main')].find(w => w.id === widget.id);
        if (existing) {
          widget.dispose();
          app.shell.activateById(existing.id);
          return;
        }
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      }
    });
    panel.title.icon = listIcon;
    app.shell.add(panel, 'left', { rank: 310 });
    // jobs started before a reload are watched again (nothing is asked when there are none)
    watcher().onShow = () => app.shell.activateById(panel.id);
    if (registry) {
      void registry.load(PLUGIN_ID).then(loaded => {
        const apply = () => {
          const c = loaded.composite as any;
          refresh = Math.max(1, Number(c.refreshSeconds) || 3);
        };
        apply();
        loaded.changed.connect(apply);
      });
    }
  }
};
