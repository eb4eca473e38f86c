import { fileURLToPath, URL } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'

// Vant's icon font is embedded as woff2 but also names a woff on a CDN as its fallback: the platform
// loads nothing from elsewhere (and the CSP would refuse it), so the remote fallback is cut from the CSS.
function noRemoteFonts(): Plugin {
  return {
    name: 'tms-no-remote-fonts',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type === 'asset' && file.fileName.endsWith('.css') && typeof file.source === 'string') {
          file.source = file.source.replace(/,\s*url\(\/\/[^)]+\)\s*format\("woff"\)/g, '')
        }
      }
    },
  }
}

// The citizen app, served by the gateway at `/`. `npm run dev` proxies the API to a running `make run`.
export default defineConfig({
  base: '/',
  plugins: [vue(), Components({ resolvers: [VantResolver()], dts: false }), noRemoteFonts()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  build: { outDir: '../../dist/citizen', emptyOutDir: true, target: 'es2020' },
  server: { proxy: { '/api': process.env.TMS_GATEWAY ?? 'http://127.0.0.1:8000' } },
})
