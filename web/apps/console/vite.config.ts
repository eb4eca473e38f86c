import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// The clerk console, served by the gateway at `/console/`. `npm run dev` proxies the API to `make run`.
export default defineConfig({
  base: '/console/',
  plugins: [vue(), Components({ resolvers: [ElementPlusResolver()], dts: false })],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  build: { outDir: '../../dist/console', emptyOutDir: true, target: 'es2020' },
  server: { proxy: { '/api': process.env.TMS_GATEWAY ?? 'http://127.0.0.1:8000' } },
})
