import { getLang, setLang, t, useLang } from '../i18n';
import { useRoute } from './hooks';
import { Home } from './home';
import { Join } from './join';
import { RoomPage } from './room';

export function LangSwitch() {
  useLang();
  return (
    <button type="button" class="lang" data-testid="lang-switch" onClick={() => setLang(getLang() === 'fr' ? 'en' : 'fr')}>
      {t('lang_switch')}
    </button>
  );
}

export function App() {
  useLang();
  const route = useRoute();
  let page;
  if (route[0] === 'join') page = <Join room={route[1]} invite={route[2]} coordinatorSign={route[3]} />;
  else if (route[0] === 'room' && route[1]) page = <RoomPage room={route[1]} tab={route[2] ?? 'logbook'} />;
  else page = <Home />;
  return <div class="app">{page}</div>;
}
