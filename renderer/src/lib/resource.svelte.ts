// A loaded value with its loading and error state, reloadable — every page's data goes through this.
import { messageOf } from './api';

export interface Resource<T> {
  readonly data: T | null;
  readonly error: string;
  readonly loading: boolean;
  reload(): Promise<void>;
}

export function resource<T>(load: () => Promise<T>): Resource<T> {
  const state = $state({ data: null as T | null, error: '', loading: true });
  async function reload(): Promise<void> {
    state.loading = true;
    state.error = '';
    try {
      state.data = await load();
    } catch (error) {
      state.error = messageOf(error);
    } finally {
      state.loading = false;
    }
  }
  void reload();
  return {
    get data() {
      return state.data;
    },
    get error() {
      return state.error;
    },
    get loading() {
      return state.loading;
    },
    reload,
  };
}
