import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'

// The citizen app, served by the gateway at `/`. `npm run dev` proxies the API to a running `make run`.
export default defineConfig({
  base: '/',
  plugins: [vue(), Components({ resolvers: [VantResolver()], dts: false })],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  build: { outDir: '../../dist/citizen', emptyOutDir: true, target: 'es2020' },
  server: { proxy: { '/api': process.env.TMS_GATEWAY ?? 'http://127.0.0.1:8000' } },
})
