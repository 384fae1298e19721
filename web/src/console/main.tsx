// The web console's entry (console/index.html, served at /console/).
import { render } from 'preact';
import { getLang } from '../i18n';
import '../ui/styles.css';
import './console.css';
import { App } from './app';

document.documentElement.lang = getLang();
render(<App />, document.getElementById('app')!);
