// Svelte compiler options for the admin UI (TypeScript in <script lang="ts"> is handled by Svelte 5 itself).
export default {
  compilerOptions: { runes: true },
};
