// Entry point of the admin UI (Svelte 5). Talks to the server only over /api (same origin, cookies).
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('missing #app');
mount(App, { target });
