/* "Use as input": the catalogue panel hands a STAC item to a packaging wizard (the command
 * eopde:use-as-input {id, href}). The wizard comes forward on the step with the item inputs
 * (wizard.tsx offerStep) and its form takes the item (inputs.tsx InputsForm). */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { STEPS, WizardWidget } from './wizard';

export const USE_AS_INPUT = 'eopde:use-as-input';

/** The open wizards; its current one is the wizard focused (or opened) last. */
export type WizardTracker = WidgetTracker<MainAreaWidget<WizardWidget>>;

/** The wizard an item goes to: the one shown, else the wizard of the notebook the user worked
 * in last, else the wizard used last; null when none is open. */
export function targetWizard(
  shell: JupyterFrontEnd.IShell,
  notebooks: INotebookTracker,
  wizards: WizardTracker
): MainAreaWidget<WizardWidget> | null {
  const shown = shell.currentWidget;
  if (shown && wizards.has(shown)) {
    return shown as MainAreaWidget<WizardWidget>;
  }
  const path = notebooks.currentWidget?.context.path;
  const ofNotebook = path ? wizards.find(w => w.content.path === path) : undefined;
  return ofNotebook ?? wizards.currentWidget;
}

/** The command: brings the wizard forward, hands it the item; what happened, in words (the
 * panel shows it); an Error saying what to do when no wizard is open. */
export function addUseAsInput(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker,
  wizards: WizardTracker
): void {
  app.commands.addCommand(USE_AS_INPUT, {
    label: 'Use as input of the packaging wizard',
    execute: args => {
      const href = String(args.href ?? '');
      if (!/^https?:\/\//.test(href)) {
        throw new Error('The item has no URL an ADES can stage in.');
      }
      const id = String(args.id ?? href);
      const wizard = targetWizard(app.shell, notebooks, wizards);
      if (!wizard) {
        throw new Error(
          `No packaging wizard is open to take ${id}: open one on your notebook (Package ` +
            'on its toolbar), then use the item again.'
        );
      }
      app.shell.activateById(wizard.id);
      const step = wizard.content.offer({ id, href });
      return `${id} went to ${wizard.title.label}, step ${step + 1}. ${STEPS[step]}.`;
    }
  });
}
