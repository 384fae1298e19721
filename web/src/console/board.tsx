// The console's tables: a header of column names (i18n keys, falsy ones
// left out: a column only some roles see), in a box that scrolls sideways
// on a narrow screen instead of the page.
import type { ComponentChildren } from 'preact';
import { ct, type ConsoleKey } from '../i18n/console';

export function Board(props: { testid: string; cols: (ConsoleKey | false)[]; class?: string; labelledby?: string; children: ComponentChildren }) {
  return (
    <div class="table-scroll">
      <table class={`board${props.class ? ` ${props.class}` : ''}`} data-testid={props.testid} aria-labelledby={props.labelledby}>
        <thead>
          <tr>
            {props.cols.map((c) =>
              c ? (
                <th key={c} scope="col">
                  {ct(c)}
                </th>
              ) : null,
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
