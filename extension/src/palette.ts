/* The command palette's hand-back of the focus, which would cover a wizard just opened.
 *
 * The modal command palette hides as soon as a command it ran has been executed (the
 * `commandExecuted` signal, emitted as the command's execute function returns: before an async
 * command has done anything) and activates the shell's current widget again (apputils-extension
 * palette.ts, ModalCommandPalette's `restore`). That posts an activate-request to the notebook,
 * handled a frame later: the notebook takes the focus and its tab comes forward, over the wizard
 * the command has opened meanwhile. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IMessageHandler, Message, MessageLoop } from '@lumino/messaging';

/** Call first thing in a command that shows a widget of its own: the activation of the shell's
 * current widget requested while the command is being dispatched (the palette's hand-back, in
 * the same task) is dropped. Nothing else is: the watch ends with that task's messages, so a
 * tab the user picks afterwards is never overridden. */
export function dropHandBack(shell: JupyterFrontEnd.IShell): void {
  const current = shell.currentWidget;
  if (!current) {
    return;
  }
  const end = new Message('eopde-dispatched');
  const hook = (_: IMessageHandler, msg: Message): boolean => {
    if (msg === end) {
      MessageLoop.removeMessageHook(current, hook);
      return false;
    }
    return msg.type !== 'activate-request';
  };
  MessageLoop.installMessageHook(current, hook);
  // a microtask runs once the command's dispatch (its signal, the palette's hand-back) is over:
  // messages are delivered in the order they were posted, so `end` arrives after the hand-back
  queueMicrotask(() => MessageLoop.postMessage(current, end));
}
