/* A sidebar panel that asks nothing of the server until it is first shown (most sessions never
 * open it); from then on its content stays mounted, hidden or not. */
import { ReactWidget } from '@jupyterlab/apputils';
import type { Message } from '@lumino/messaging';
import * as React from 'react';

export abstract class LazySidePanel extends ReactWidget {
  private opened = false;

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this.opened) {
      this.opened = true;
      this.update();
    }
  }

  /** The panel's content, rendered from the first time it is shown. */
  protected abstract renderOpened(): JSX.Element;

  render(): JSX.Element {
    return this.opened ? this.renderOpened() : <div />;
  }
}
