import { render } from 'preact';
import { getLang } from './i18n';
import { installTestHook } from './testhook';
import { App } from './ui/app';
import './ui/styles.css';

installTestHook();
document.documentElement.lang = getLang();
if (!globalThis.isSecureContext || !globalThis.crypto?.subtle) {
  document.body.innerHTML =
    '<p style="font:20px sans-serif;padding:1em">This page needs HTTPS: open the https:// address given by the coordinator and trust the local certificate (see the README). / Cette page exige HTTPS : ouvrez l’adresse https:// donnée par le coordinateur et faites confiance au certificat local (voir le README).</p>';
} else {
  render(<App />, document.getElementById('app')!);
}
