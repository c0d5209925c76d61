import t from 'tap'
import { embedOptions, embedUrl } from '../src/embed.js'

t.test('widget options: the closed list, each value checked, the bad one named', async (t) => {
  const player = {
    t: '12.5',
    captions: 'en-US',
    showCaptions: 'true',
    type: 'audio',
    autoplay: 'false',
    locale: 'de',
    language: 'es-ES',
    boundingBoxes: 'people,detectedObjects'
  }
  t.same(embedOptions('player', player), Object.entries(player))
  const insights = {
    widgets: 'people,ocr',
    controls: 'search',
    tab: 'timeline',
    search: 'azure',
    sort: 'people_name_asc',
    title: 'Town hall',
    language: 'en-US'
  }
  t.same(embedOptions('insights', insights), Object.entries(insights))
  const bad: Array<['player' | 'insights', Record<string, unknown>, string]> = [
    ['player', { t: 'soon' }, 't'],
    ['player', { autoplay: 'yes' }, 'autoplay'],
    ['player', { widgets: 'people' }, 'widgets'],
    ['player', { t: ['1', '2'] }, 't'],
    ['insights', { widgets: 'people,faces' }, 'widgets'],
    ['insights', { sort: 'name' }, 'sort'],
    ['insights', { title: 'a\u0000b' }, 'title'],
    ['insights', { accessToken: 'x' }, 'accessToken'],
    ['insights', { toString: 'x' }, 'toString'],
    ['insights', { '<b>': 'x' }, '\\(not a valid option name\\)']
  ]
  for (const [widget, query, name] of bad) {
    const message = new RegExp(`option ${name} is`)
    t.throws(() => embedOptions(widget, query), { code: 'INVALID_EMBED_OPTION', message })
  }
})

t.test('the URL: account id, video id, token, location, then the options', async (t) => {
  const url = embedUrl('https://www.videoindexer.ai', 'player', { accountId: 'acc', location: 'eastus' }, 'v 1', 'tok', [['t', '5']])
  t.equal(url, 'https://www.videoindexer.ai/embed/player/acc/v%201/?accessToken=tok&location=eastus&t=5')
})
