import { createApp } from 'vue'
import 'vant/es/style/base.css'
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import 'vant/es/notify/style'
import './theme.css'
import App from './App.vue'
import { router } from './router'

createApp(App).use(router).mount('#app')
