//! `plaza bench search`: indexing documents per second, then queries per second at a
//! fixed rate over HTTP. The bench generates `--docs` documents (default 1,000,000)
//! from a seeded generator — Chinese text drawn from a vocabulary of a few hundred words
//! (places, services, shops, foods, topics) with some Latin words, titles of 2–12
//! characters and texts of 20–120, sections mixed as a platform's are (posts 60 %, mini
//! programs 15 %, creators 10 %, merchants 8 %, services 5 %, corps 2 %) — and indexes
//! them into the data directory's `search-index/` the way a rebuild would: each
//! document prepared on every core, added to the one writer, one commit. Documents per
//! second is the documents over the wall time of prepare, add and commit.
//!
//! Indexing's own bound follows (`index_bound`): on the first 100,000 documents, in a
//! second index, analysis alone on one thread, then tantivy alone adding what it made
//! and committing. The CPU time each part takes per document gives the most the cores
//! could index if they did nothing else.
//!
//! The machine's own bound is measured next, in this process: the mixed queries
//! answered by the index directly (no HTTP) on one thread, then on one thread per core,
//! so the HTTP overhead shows.
//! Then this binary is started as `plaza serve --sandbox` on the same data directory,
//! which opens the index as it finds it (the bench checks that it serves every
//! document and rebuilt nothing), and `--concurrency` clients over keep-alive loopback
//! connections send `GET /api/v1/search?q=…` on an open loop: request `i` is due at
//! `start + i / rate`, and its latency is counted from when it was due, so a server
//! that falls behind pays for the requests waiting behind it (no coordinated
//! omission). The first `--warmup-seconds` of requests are not counted: connections
//! open, the index's pages come into memory and the server's answer cache fills; the
//! cache's hit ratio over the whole run is reported (the bound above never uses it). Each request draws its query at random from a mixed set: terms,
//! two-word phrases, substrings of titles, full pinyin, initials, intents ("附近 核酸",
//! "社保怎么查") and section pages (`section=posts&page=1`).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use plaza_kernel::clock::{Clock, SystemClock};
use plaza_search::analyze::{Analyzer, han_runs};
use plaza_search::{Document, IntentDictionary, Opened, Prepared, Request, SearchIndex, Section};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::Outcome;
use crate::bench::pay::{Connection, api_call, cpu_seconds, start_server_in};
use crate::bench::{percentile_ms, tempfile_dir};

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Documents to generate and index.
    #[arg(long, default_value_t = 1_000_000)]
    docs: usize,
    /// Queries per second offered, on an open loop (request i is due at start + i/rate).
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// Measured seconds of queries, after the warm-up.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of queries at the same rate before the measured ones, not counted: the
    /// clients' connections open, the index's pages come into memory, the server's
    /// answer cache fills with the set's queries and the queue of the cold start drains
    /// (which took 9 to 15 s here; 0 measures from a cold start).
    #[arg(long, default_value_t = 20)]
    warmup_seconds: u64,
    /// Concurrent clients, each a keep-alive connection.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of queries answered by the index in this process on one thread, then as
    /// long on one thread per core (the machine's bound, without HTTP).
    #[arg(long, default_value_t = 5)]
    bound_seconds: u64,
    /// Seed of the documents and the queries.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Data directory to build the index in and serve; kept afterwards. It must hold no
    /// search index yet [default: a temporary directory, removed after].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// With `--data-dir`: open the search index already there (built by an earlier run
    /// with the same `--docs` and `--seed`) instead of building one; indexing is then
    /// not measured. For working on queries.
    #[arg(long, requires = "data_dir")]
    reuse_index: bool,
    /// Measure the in-process bound only, without starting the server.
    #[arg(long)]
    bound_only: bool,
}

/// The index's folder in a data directory: where `plaza serve` opens it
/// (`systems::search::INDEX_DIR`).
const INDEX_DIR: &str = "search-index";
/// How long requests due in the window may still be sent after it ends; the rest are
/// counted as unsent.
const DRAIN: Duration = Duration::from_secs(10);
/// One request's longest wait for its answer before it counts as an error.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Distinct queries the requests draw from.
const QUERY_SET: usize = 10_000;
/// Documents a preparing thread takes at a time.
const CHUNK: usize = 1_024;
/// When the newest post was published (2026-11-18), so runs rank alike.
const NEWEST_POST_MS: i64 = 1_795_000_000_000;
const DAY_MS: i64 = 86_400_000;

/// A word with its full pinyin and initials, spelled by hand (a test checks them
/// against the engine's own spellings).
type Word = (&'static str, &'static str, &'static str);

const PLACES: &[Word] = &[
    ("北京", "beijing", "bj"),
    ("上海", "shanghai", "sh"),
    ("广州", "guangzhou", "gz"),
    ("深圳", "shenzhen", "sz"),
    ("杭州", "hangzhou", "hz"),
    ("成都", "chengdu", "cd"),
    ("重庆", "chongqing", "cq"),
    ("武汉", "wuhan", "wh"),
    ("西安", "xian", "xa"),
    ("南京", "nanjing", "nj"),
    ("苏州", "suzhou", "sz"),
    ("天津", "tianjin", "tj"),
    ("长沙", "changsha", "cs"),
    ("郑州", "zhengzhou", "zz"),
    ("青岛", "qingdao", "qd"),
    ("厦门", "xiamen", "xm"),
    ("宁波", "ningbo", "nb"),
    ("合肥", "hefei", "hf"),
    ("昆明", "kunming", "km"),
    ("福州", "fuzhou", "fz"),
    ("济南", "jinan", "jn"),
    ("沈阳", "shenyang", "sy"),
    ("大连", "dalian", "dl"),
    ("西湖", "xihu", "xh"),
    ("浦东", "pudong", "pd"),
    ("朝阳", "chaoyang", "cy"),
    ("海淀", "haidian", "hd"),
    ("滨江", "binjiang", "bj"),
    ("余杭", "yuhang", "yh"),
    ("拱墅", "gongshu", "gs"),
    ("萧山", "xiaoshan", "xs"),
    ("浙江", "zhejiang", "zj"),
    ("江苏", "jiangsu", "js"),
    ("广东", "guangdong", "gd"),
    ("四川", "sichuan", "sc"),
    ("云南", "yunnan", "yn"),
    ("中国", "zhongguo", "zg"),
];

/// Services mini programs declare: the first nine are the starter intent dictionary's.
const SERVICES: &[Word] = &[
    ("核酸检测", "hesuanjiance", "hsjc"),
    ("疫苗预约", "yimiaoyuyue", "ymyy"),
    ("社保查询", "shebaochaxun", "sbcx"),
    ("医保", "yibao", "yb"),
    ("公积金", "gongjijin", "gjj"),
    ("交通违章", "jiaotongweizhang", "jtwz"),
    ("挂号", "guahao", "gh"),
    ("充电", "chongdian", "cd"),
    ("电费", "dianfei", "df"),
    ("水费", "shuifei", "sf"),
    ("燃气缴费", "ranqijiaofei", "rqjf"),
    ("快递查询", "kuaidichaxun", "kdcx"),
    ("户籍办理", "hujibanli", "hjbl"),
    ("居住证", "juzhuzheng", "jzz"),
    ("不动产登记", "budongchandengji", "bdcdj"),
    ("出入境", "churujing", "crj"),
    ("身份证", "shenfenzheng", "sfz"),
    ("驾驶证", "jiashizheng", "jsz"),
    ("停车缴费", "tingchejiaofei", "tcjf"),
    ("公交卡", "gongjiaoka", "gjk"),
    ("话费充值", "huafeichongzhi", "hfcz"),
    ("个税", "geshui", "gs"),
    ("养老金", "yanglaojin", "ylj"),
    ("体检预约", "tijianyuyue", "tjyy"),
    ("发票", "fapiao", "fp"),
    ("外卖", "waimai", "wm"),
    ("打车", "dache", "dc"),
    ("酒店预订", "jiudianyuding", "jdyd"),
    ("火车票", "huochepiao", "hcp"),
    ("机票", "jipiao", "jp"),
];

const SHOPS: &[Word] = &[
    ("星巴克", "xingbake", "xbk"),
    ("瑞幸咖啡", "ruixingkafei", "rxkf"),
    ("肯德基", "kendeji", "kdj"),
    ("麦当劳", "maidanglao", "mdl"),
    ("海底捞", "haidilao", "hdl"),
    ("喜茶", "xicha", "xc"),
    ("奈雪", "naixue", "nx"),
    ("便利店", "bianlidian", "bld"),
    ("超市", "chaoshi", "cs"),
    ("药店", "yaodian", "yd"),
    ("书店", "shudian", "sd"),
    ("花店", "huadian", "hd"),
    ("面包房", "mianbaofang", "mbf"),
    ("水果店", "shuiguodian", "sgd"),
    ("理发店", "lifadian", "lfd"),
    ("健身房", "jianshenfang", "jsf"),
    ("宠物店", "chongwudian", "cwd"),
    ("火锅店", "huoguodian", "hgd"),
    ("奶茶店", "naichadian", "ncd"),
    ("咖啡馆", "kafeiguan", "kfg"),
    ("银泰", "yintai", "yt"),
    ("万达", "wanda", "wd"),
    ("盒马", "hema", "hm"),
    ("全家", "quanjia", "qj"),
];

const FOODS: &[Word] = &[
    ("小笼包", "xiaolongbao", "xlb"),
    ("火锅", "huoguo", "hg"),
    ("烧烤", "shaokao", "sk"),
    ("奶茶", "naicha", "nc"),
    ("咖啡", "kafei", "kf"),
    ("面条", "miantiao", "mt"),
    ("饺子", "jiaozi", "jz"),
    ("包子", "baozi", "bz"),
    ("馄饨", "huntun", "ht"),
    ("煎饼", "jianbing", "jb"),
    ("油条", "youtiao", "yt"),
    ("豆浆", "doujiang", "dj"),
    ("炸鸡", "zhaji", "zj"),
    ("汉堡", "hanbao", "hb"),
    ("披萨", "pisa", "ps"),
    ("寿司", "shousi", "ss"),
    ("蛋糕", "dangao", "dg"),
    ("月饼", "yuebing", "yb"),
    ("粽子", "zongzi", "zz"),
    ("汤圆", "tangyuan", "ty"),
    ("麻辣烫", "malatang", "mlt"),
    ("螺蛳粉", "luosifen", "lsf"),
    ("烤鸭", "kaoya", "ky"),
    ("红烧肉", "hongshaorou", "hsr"),
    ("醋鱼", "cuyu", "cy"),
    ("龙井茶", "longjingcha", "ljc"),
    ("水果", "shuiguo", "sg"),
    ("草莓", "caomei", "cm"),
    ("西瓜", "xigua", "xg"),
    ("米粉", "mifen", "mf"),
];

const TOPICS: &[Word] = &[
    ("美食", "meishi", "ms"),
    ("旅行", "lvxing", "lx"),
    ("攻略", "gonglve", "gl"),
    ("探店", "tandian", "td"),
    ("打卡", "daka", "dk"),
    ("周末", "zhoumo", "zm"),
    ("推荐", "tuijian", "tj"),
    ("分享", "fenxiang", "fx"),
    ("生活", "shenghuo", "sh"),
    ("日常", "richang", "rc"),
    ("教程", "jiaocheng", "jc"),
    ("健身", "jianshen", "js"),
    ("减肥", "jianfei", "jf"),
    ("跑步", "paobu", "pb"),
    ("瑜伽", "yujia", "yj"),
    ("摄影", "sheying", "sy"),
    ("手机", "shouji", "sj"),
    ("电脑", "diannao", "dn"),
    ("数码", "shuma", "sm"),
    ("游戏", "youxi", "yx"),
    ("音乐", "yinyue", "yy"),
    ("电影", "dianying", "dy"),
    ("读书", "dushu", "ds"),
    ("学习", "xuexi", "xx"),
    ("考试", "kaoshi", "ks"),
    ("工作", "gongzuo", "gz"),
    ("职场", "zhichang", "zc"),
    ("理财", "licai", "lc"),
    ("基金", "jijin", "jj"),
    ("房价", "fangjia", "fj"),
    ("租房", "zufang", "zf"),
    ("装修", "zhuangxiu", "zx"),
    ("家居", "jiaju", "jj"),
    ("宠物", "chongwu", "cw"),
    ("猫咪", "maomi", "mm"),
    ("育儿", "yuer", "ye"),
    ("教育", "jiaoyu", "jy"),
    ("健康", "jiankang", "jk"),
    ("养生", "yangsheng", "ys"),
    ("天气", "tianqi", "tq"),
    ("新闻", "xinwen", "xw"),
    ("直播", "zhibo", "zb"),
    ("搞笑", "gaoxiao", "gx"),
    ("穿搭", "chuanda", "cd"),
    ("美妆", "meizhuang", "mz"),
    ("护肤", "hufu", "hf"),
    ("汽车", "qiche", "qc"),
    ("新能源", "xinnengyuan", "xny"),
    ("农业", "nongye", "ny"),
    ("农村", "nongcun", "nc"),
    ("春节", "chunjie", "cj"),
    ("中秋", "zhongqiu", "zq"),
    ("优惠", "youhui", "yh"),
    ("打折", "dazhe", "dz"),
    ("团购", "tuangou", "tg"),
    ("会员", "huiyuan", "hy"),
    ("积分", "jifen", "jf"),
    ("政务", "zhengwu", "zw"),
    ("办事", "banshi", "bs"),
    ("指南", "zhinan", "zn"),
    ("免费", "mianfei", "mf"),
    ("好吃", "haochi", "hc"),
    ("好玩", "haowan", "hw"),
    ("朋友", "pengyou", "py"),
    ("孩子", "haizi", "hz"),
    ("老人", "laoren", "lr"),
    ("学生", "xuesheng", "xs"),
    ("手工", "shougong", "sg"),
    ("维修", "weixiu", "wx"),
    ("换电池", "huandianchi", "hdc"),
    ("医生", "yisheng", "ys"),
    ("医院", "yiyuan", "yy"),
    ("银行", "yinhang", "yh"),
    ("地铁", "ditie", "dt"),
    ("停车", "tingche", "tc"),
];

/// Parts of the names of corps, merchants and creators.
const NAMES: &[Word] = &[
    ("科技", "keji", "kj"),
    ("有限公司", "youxiangongsi", "yxgs"),
    ("集团", "jituan", "jt"),
    ("分行", "fenhang", "fh"),
    ("大学", "daxue", "dx"),
    ("中学", "zhongxue", "zx"),
    ("幼儿园", "youeryuan", "yey"),
    ("物业", "wuye", "wy"),
    ("酒店", "jiudian", "jd"),
    ("餐厅", "canting", "ct"),
    ("旗舰店", "qijiandian", "qjd"),
    ("门店", "mendian", "md"),
    ("中心", "zhongxin", "zx"),
    ("广场", "guangchang", "gc"),
    ("商场", "shangchang", "sc"),
    ("人民", "renmin", "rm"),
    ("工作室", "gongzuoshi", "gzs"),
    ("老张", "laozhang", "lz"),
    ("小王", "xiaowang", "xw"),
    ("阿姨", "ayi", "ay"),
    ("师傅", "shifu", "sf"),
    ("达人", "daren", "dr"),
    ("日记", "riji", "rj"),
    ("频道", "pindao", "pd"),
    ("官方", "guanfang", "gf"),
    ("服务", "fuwu", "fw"),
];

const LATIN: &[&str] = &[
    "iPhone",
    "iPad",
    "MacBook",
    "Starbucks",
    "Tesla",
    "Nike",
    "Adidas",
    "Uniqlo",
    "Costa",
    "KFC",
    "WiFi",
    "Vlog",
    "DIY",
    "NBA",
    "AI",
    "5G",
    "App",
    "Switch",
    "Huawei",
    "Xiaomi",
];

/// Small words between the vocabulary's, as sentences have them.
const FILLER_WORDS: &[&str] = &[
    "的", "了", "和", "在", "很", "去", "也", "就", "都", "还", "比较", "真的", "一起", "这家",
    "我们", "大家", "今天", "最近", "终于", "可以",
];
const PUNCTUATION: &[&str] = &["，", "。", "！", "？", "、", " "];

/// How people ask for a service.
const INTENTS: &[&str] = &[
    "附近 核酸",
    "社保怎么查",
    "打疫苗",
    "核酸检测",
    "做核酸",
    "疫苗预约",
    "查社保",
    "公积金提取",
    "住房公积金",
    "查违章",
    "交通违章",
    "预约挂号",
    "挂号",
    "交电费",
    "充电桩",
    "医保卡",
    "附近 充电",
    "我要挂号",
    "公积金怎么查",
    "违章查询",
    "核酸结果",
    "新冠疫苗",
    "医保报销",
    "社保卡",
];

/// Every Chinese word list, for queries.
const ALL_WORDS: &[&[Word]] = &[PLACES, SERVICES, SHOPS, FOODS, TOPICS, NAMES];

/// A well-mixed 64-bit value of `seed` and `index` (SplitMix64's finaliser).
fn mix(seed: u64, index: u64) -> u64 {
    let mut x = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn rng_for(seed: u64, salt: u64, index: usize) -> StdRng {
    StdRng::seed_from_u64(mix(seed ^ salt, index as u64))
}

/// The section of document `index`: posts 60 %, mini programs 15 %, creators 10 %,
/// merchants 8 %, services 5 %, corps 2 %.
fn section_of(seed: u64, index: usize) -> Section {
    match mix(seed, index as u64) % 100 {
        0..60 => Section::Posts,
        60..75 => Section::MiniPrograms,
        75..85 => Section::Creators,
        85..93 => Section::Merchants,
        93..98 => Section::Services,
        _ => Section::Corps,
    }
}

/// The first document of `section` at or after `index` (wrapping): the mini program a
/// service belongs to, the creator of a post. `index` itself when there is none.
fn owner_of(seed: u64, index: usize, docs: usize, section: Section) -> usize {
    (0..docs)
        .map(|step| (index + step) % docs)
        .find(|&at| section_of(seed, at) == section)
        .unwrap_or(index)
}

fn pick<'a, T>(rng: &mut StdRng, list: &'a [T]) -> &'a T {
    &list[rng.random_range(0..list.len())]
}

fn word(rng: &mut StdRng, lists: &[&'static [Word]]) -> &'static str {
    let list = *pick(rng, lists);
    pick(rng, list).0
}

/// The first `max` characters of `text`.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A sentence of `lists`' words (some Latin, some small words, some punctuation) of
/// `min..=max` characters.
fn sentence(rng: &mut StdRng, lists: &[&'static [Word]], min: usize, max: usize) -> String {
    let target = rng.random_range(min..=max);
    let mut text = String::new();
    let mut length = 0;
    while length < target {
        let next = match rng.random_range(0..100) {
            0..5 => *pick(rng, LATIN),
            5..25 => *pick(rng, FILLER_WORDS),
            25..40 => *pick(rng, PUNCTUATION),
            _ => word(rng, lists),
        };
        text.push_str(next);
        length += next.chars().count();
    }
    clip(&text, max)
}

/// A title of 2–12 characters: one to three words, now and then a Latin one first.
fn title(rng: &mut StdRng, lists: &[&'static [Word]]) -> String {
    let mut text = String::new();
    if rng.random_bool(0.08) {
        let latin: &&str = pick(rng, LATIN);
        text.push_str(latin);
        text.push(' ');
    }
    for _ in 0..rng.random_range(1..=3) {
        text.push_str(word(rng, lists));
    }
    clip(text.trim(), 12)
}

/// Visits, followers or views: spread over six orders of magnitude, most things small.
fn popularity(rng: &mut StdRng) -> u64 {
    let exponent: f64 = rng.random_range(0.0..6.5);
    10_f64.powf(exponent) as u64
}

fn mini_program_id(index: usize) -> String {
    format!("wx{index:010}")
}

fn channel_id(index: usize) -> String {
    format!("ch_{index}")
}

/// The name of the mini program that is document `index` (services repeat it).
fn app_name(seed: u64, index: usize) -> String {
    let mut rng = rng_for(seed, 0xA99, index);
    match rng.random_range(0..4) {
        0 => format!("{}{}", pick(&mut rng, PLACES).0, pick(&mut rng, SERVICES).0),
        1 => format!("{}{}", pick(&mut rng, SHOPS).0, pick(&mut rng, NAMES).0),
        2 => format!("{}{}", pick(&mut rng, PLACES).0, pick(&mut rng, TOPICS).0),
        _ => format!("{}{}", pick(&mut rng, FOODS).0, pick(&mut rng, TOPICS).0),
    }
}

/// The name of the creator that is document `index` (posts repeat it).
fn creator_name(seed: u64, index: usize) -> String {
    let mut rng = rng_for(seed, 0xC4E, index);
    let name = match rng.random_range(0..3) {
        0 => format!("{}{}", pick(&mut rng, TOPICS).0, pick(&mut rng, NAMES).0),
        1 => format!(
            "{}{}{}",
            pick(&mut rng, PLACES).0,
            pick(&mut rng, FOODS).0,
            "日记"
        ),
        _ => format!("{}的{}", pick(&mut rng, TOPICS).0, pick(&mut rng, NAMES).0),
    };
    clip(&name, 12)
}

/// Document `index` of `docs` generated from `seed`: the same for the same three.
fn document(seed: u64, index: usize, docs: usize) -> Document {
    let mut rng = rng_for(seed, 0xD0C, index);
    let section = section_of(seed, index);
    let mut document = Document {
        section,
        id: String::new(),
        title: String::new(),
        body: String::new(),
        keywords: Vec::new(),
        popularity: popularity(&mut rng),
        published_at_ms: None,
        owner: String::new(),
        link: String::new(),
        card: serde_json::Map::new(),
    };
    match section {
        Section::Posts => post(&mut document, &mut rng, seed, index, docs),
        Section::MiniPrograms | Section::Services => {
            app_or_service(&mut document, &mut rng, seed, index, docs);
        }
        Section::Creators | Section::Merchants | Section::Corps => {
            named(&mut document, &mut rng, seed, index);
        }
    }
    document
}

fn post(document: &mut Document, rng: &mut StdRng, seed: u64, index: usize, docs: usize) {
    let lists: &[&'static [Word]] = &[TOPICS, FOODS, PLACES, SHOPS, SERVICES];
    let creator = owner_of(seed, index, docs, Section::Creators);
    document.id = format!("p_{index}");
    document.title = title(rng, lists);
    let caption_max = 120 - document.title.chars().count() - 1;
    document.body = format!(
        "{}\n{}",
        document.title,
        sentence(rng, lists, 20_usize.min(caption_max), caption_max)
    );
    document.keywords = (0..rng.random_range(1..=3))
        .map(|_| pick(rng, TOPICS).0.to_owned())
        .collect();
    document.published_at_ms = Some(NEWEST_POST_MS - rng.random_range(0..365 * DAY_MS));
    document.owner = channel_id(creator);
    document.link = format!("/app/channels/posts/p_{index}");
    document
        .card
        .insert("channel_id".into(), json!(document.owner));
    document
        .card
        .insert("channel_name".into(), json!(creator_name(seed, creator)));
    document
        .card
        .insert("area".into(), json!(pick(rng, PLACES).0));
}

fn app_or_service(document: &mut Document, rng: &mut StdRng, seed: u64, index: usize, docs: usize) {
    let lists: &[&'static [Word]] = &[SERVICES, TOPICS, PLACES];
    let app = if document.section == Section::Services {
        owner_of(seed, index, docs, Section::MiniPrograms)
    } else {
        index
    };
    let appid = mini_program_id(app);
    let name = app_name(seed, app);
    let icon: String = name.chars().take(1).collect();
    let description = sentence(rng, lists, 20, 100);
    document.owner = appid.clone();
    document.link = format!("/app/mp/{appid}");
    if document.section == Section::Services {
        let service = pick(rng, SERVICES).0;
        document.id = format!("{appid}:{service}");
        document.title = service.to_owned();
        document.body = clip(&format!("{name} {description}"), 120);
        document.card.insert("app_name".into(), json!(name));
        document.card.insert("icon".into(), json!(icon));
        document.card.insert("page".into(), json!(""));
    } else {
        document.id = appid;
        document.title = name;
        document.body = description;
        document.keywords = (0..rng.random_range(2..=4))
            .map(|_| pick(rng, SERVICES).0.to_owned())
            .collect();
        let category = pick(rng, TOPICS).0;
        document.keywords.push(category.to_owned());
        document.card.insert("icon".into(), json!(icon));
        document.card.insert("category".into(), json!(category));
    }
}

/// A creator, a merchant or a corp: a name, a short text.
fn named(document: &mut Document, rng: &mut StdRng, seed: u64, index: usize) {
    let place = pick(rng, PLACES).0;
    match document.section {
        Section::Creators => {
            document.id = channel_id(index);
            document.title = creator_name(seed, index);
            document.body = sentence(rng, &[TOPICS, FOODS, PLACES], 20, 60);
            document.link = format!("/app/channels/c/{}", document.id);
            document.card.insert("avatar".into(), Value::Null);
            document.card.insert("area".into(), json!(place));
        }
        Section::Merchants => {
            let shop = pick(rng, SHOPS).0;
            document.id = format!("m_{index}");
            document.title = clip(&format!("{shop}({place}{}店)", pick(rng, SHOPS).0), 12);
            document.body = sentence(rng, &[PLACES, SHOPS, FOODS], 20, 40);
            document
                .card
                .insert("kind".into(), json!(pick(rng, FOODS).0));
        }
        _ => {
            document.id = format!("corp_{index}");
            document.title = clip(
                &format!("{place}{}{}", pick(rng, TOPICS).0, pick(rng, NAMES).0),
                12,
            );
            document.body = sentence(rng, &[TOPICS, NAMES, PLACES], 20, 60);
            document.keywords = vec![pick(rng, TOPICS).0.to_owned()];
        }
    }
    document.owner.clone_from(&document.id);
}

/// What a query asks, for the figures by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Term,
    Phrase,
    Substring,
    Pinyin,
    Initials,
    Intent,
    SectionPage,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Term,
        Kind::Phrase,
        Kind::Substring,
        Kind::Pinyin,
        Kind::Initials,
        Kind::Intent,
        Kind::SectionPage,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Term => "term",
            Kind::Phrase => "phrase",
            Kind::Substring => "substring",
            Kind::Pinyin => "pinyin",
            Kind::Initials => "initials",
            Kind::Intent => "intent",
            Kind::SectionPage => "section_page",
        }
    }

    /// The mix: a query is of this kind this many times in a hundred.
    fn share(self) -> u32 {
        match self {
            Kind::Term => 25,
            Kind::Phrase | Kind::Intent => 15,
            Kind::Substring => 15,
            Kind::Pinyin => 10,
            Kind::Initials => 10,
            Kind::SectionPage => 10,
        }
    }
}

/// One query of the set.
#[derive(Debug, Clone)]
struct Query {
    kind: Kind,
    q: String,
    section: Option<Section>,
    page: usize,
}

impl Query {
    fn wire(&self) -> Vec<u8> {
        let q: String = url::form_urlencoded::byte_serialize(self.q.as_bytes()).collect();
        let section = self.section.map_or_else(String::new, |section| {
            format!("&section={}&page={}", section.as_str(), self.page)
        });
        format!("GET /api/v1/search?q={q}{section} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            .into_bytes()
    }
}

/// A substring of 2–4 Han characters of a generated title, cut wherever it falls
/// (across words as often as not); `None` when the title has no run of 3 or more.
fn substring(rng: &mut StdRng, seed: u64, docs: usize) -> Option<String> {
    let title = document(seed, rng.random_range(0..docs), docs).title;
    let run: Vec<char> = han_runs(&title)
        .into_iter()
        .map(|(_, run)| run)
        .find(|run| run.chars().count() >= 3)?
        .chars()
        .collect();
    let length = rng.random_range(2..=run.len().min(4));
    let start = rng.random_range(0..=run.len() - length);
    Some(run[start..start + length].iter().collect())
}

/// A query of `kind`, drawn with `rng` (over documents `0..docs` for substrings).
fn query(rng: &mut StdRng, kind: Kind, seed: u64, docs: usize) -> Query {
    let chinese = |rng: &mut StdRng| {
        let list = *pick(rng, ALL_WORDS);
        *pick(rng, list)
    };
    let q = match kind {
        Kind::Term if rng.random_bool(0.1) => (*pick(rng, LATIN)).to_owned(),
        Kind::Term => chinese(rng).0.to_owned(),
        Kind::Phrase | Kind::SectionPage => {
            let (first, second) = (chinese(rng).0, chinese(rng).0);
            if kind == Kind::SectionPage && rng.random_bool(0.5) {
                first.to_owned()
            } else if rng.random_bool(0.6) {
                format!("{first} {second}")
            } else {
                format!("{first}{second}")
            }
        }
        Kind::Substring => substring(rng, seed, docs).unwrap_or_else(|| chinese(rng).0.into()),
        Kind::Pinyin => chinese(rng).1.to_owned(),
        Kind::Initials => chinese(rng).2.to_owned(),
        Kind::Intent if rng.random_bool(0.2) => {
            format!("{} {}", pick(rng, PLACES).0, pick(rng, SERVICES).0)
        }
        Kind::Intent => (*pick(rng, INTENTS)).to_owned(),
    };
    let (section, page) = if kind == Kind::SectionPage {
        let section = if rng.random_bool(0.5) {
            Section::Posts
        } else {
            *pick(rng, &Section::ALL)
        };
        (Some(section), rng.random_range(0..=2))
    } else {
        (None, 0)
    };
    Query {
        kind,
        q,
        section,
        page,
    }
}

/// `count` queries in the mix of [`Kind::share`], in random order.
fn query_set(seed: u64, docs: usize, count: usize) -> Vec<Query> {
    let mut rng = rng_for(seed, 0x0E7, 0);
    let total: u32 = Kind::ALL.iter().map(|kind| kind.share()).sum();
    (0..count)
        .map(|_| {
            let mut roll = rng.random_range(0..total);
            let kind = Kind::ALL
                .into_iter()
                .find(|kind| {
                    let inside = roll < kind.share();
                    roll = roll.saturating_sub(kind.share());
                    inside
                })
                .unwrap_or(Kind::Term);
            query(&mut rng, kind, seed, docs)
        })
        .collect()
}

/// What building the index measured.
struct Built {
    generate_s: f64,
    index_s: f64,
    prepare_s: f64,
    add_wait_s: f64,
    commit_s: f64,
    /// Every process's while indexing (other work on the machine shows here).
    machine_cores: Option<f64>,
    threads: usize,
    documents: u64,
    index_bytes: u64,
    segments: usize,
    /// Indexing's parts measured apart on a sample (none when the index was reused).
    bound: Option<IndexBound>,
}

impl Built {
    /// Where indexing's time went.
    fn figures(&self) -> Value {
        json!({
            "generate_seconds": round(self.generate_s, 2),
            "index_seconds": round(self.index_s, 2),
            "prepare_thread_seconds": round(self.prepare_s, 2),
            "add_wait_seconds": round(self.add_wait_s, 2),
            "commit_seconds": round(self.commit_s, 2),
            "index_threads": self.threads,
            "index_machine_cores_used": self.machine_cores,
            "segments": self.segments,
        })
    }
}

/// Documents of the indexing bound's sample.
const INDEX_BOUND_SAMPLE: usize = 100_000;

/// Indexing's two parts measured one after the other on a sample of the documents, in
/// a second index: analysis alone on one thread, then tantivy alone adding the
/// analysed documents (made beforehand, not timed) on its threads and committing.
/// Their CPU time per document bounds what the machine's cores can index when both run
/// at once.
struct IndexBound {
    sample: usize,
    prepare_s: f64,
    prepare_cpu_s: f64,
    add_s: f64,
    add_cpu_s: f64,
    /// Tokens of the sample's analysed fields.
    tokens: usize,
    cores: usize,
}

impl IndexBound {
    fn per_doc_us(&self, seconds: f64) -> f64 {
        seconds / self.sample as f64 * 1e6
    }

    /// The sample's documents over `seconds`.
    fn rate(&self, seconds: f64) -> f64 {
        self.sample as f64 / seconds
    }

    /// Documents per second if every core did nothing but index, both parts at the CPU
    /// cost they had apart.
    fn ceiling(&self) -> f64 {
        let cpu_per_doc = (self.prepare_cpu_s + self.add_cpu_s) / self.sample as f64;
        self.cores as f64 / cpu_per_doc
    }

    fn figures(&self) -> Value {
        json!({
            "sample_docs": self.sample,
            "tokens_per_doc": round(self.tokens as f64 / self.sample as f64, 1),
            "prepare_docs_per_second_one_thread": self.rate(self.prepare_s).round(),
            "prepare_cpu_us_per_doc": round(self.per_doc_us(self.prepare_cpu_s), 1),
            "add_docs_per_second": self.rate(self.add_s).round(),
            "add_cpu_us_per_doc": round(self.per_doc_us(self.add_cpu_s), 1),
            "ceiling_docs_per_second": self.ceiling().round(),
        })
    }
}

/// This process's CPU seconds so far, every thread's.
fn process_cpu_seconds() -> anyhow::Result<f64> {
    cpu_seconds("self").context("this process's CPU time (/proc/self/stat)")
}

/// This thread's CPU seconds so far.
fn thread_cpu_seconds() -> anyhow::Result<f64> {
    cpu_seconds("thread-self").context("this thread's CPU time (/proc/thread-self/stat)")
}

/// Measures [`IndexBound`] on the first [`INDEX_BOUND_SAMPLE`] of `documents`.
fn index_bound(documents: &[Document], threads: usize) -> anyhow::Result<IndexBound> {
    let sample = &documents[..documents.len().min(INDEX_BOUND_SAMPLE)];
    let dir = tempfile_dir()?;
    let measured = (|| -> anyhow::Result<IndexBound> {
        let (index, _) = SearchIndex::open(&dir, Analyzer::new(), threads)?;
        // Analysis as the pipeline has it: each document's fields made and let go.
        let (started, cpu) = (Instant::now(), thread_cpu_seconds()?);
        for document in sample {
            drop(index.prepare(document)?);
        }
        let (prepare_s, prepare_cpu_s) =
            (started.elapsed().as_secs_f64(), thread_cpu_seconds()? - cpu);
        let prepared = sample
            .iter()
            .map(|document| index.prepare(document))
            .collect::<Result<Vec<_>, _>>()?;
        let tokens = prepared.iter().map(Prepared::token_count).sum();
        let (started, cpu) = (Instant::now(), process_cpu_seconds()?);
        for doc in prepared {
            index.add_prepared(doc)?;
        }
        index.commit()?;
        let bound = IndexBound {
            sample: sample.len(),
            prepare_s,
            prepare_cpu_s,
            add_s: started.elapsed().as_secs_f64(),
            add_cpu_s: process_cpu_seconds()? - cpu,
            tokens,
            cores: threads,
        };
        // Its merges must not run beside the main build.
        index.wait_for_merges()?;
        Ok(bound)
    })();
    let _removed = std::fs::remove_dir_all(&dir);
    measured
}

/// Generates `docs` documents on `threads` threads.
fn generate(seed: u64, docs: usize, threads: usize) -> anyhow::Result<Vec<Document>> {
    let per_thread = docs.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let from = (thread * per_thread).min(docs);
                    let to = (from + per_thread).min(docs);
                    (from..to)
                        .map(|index| document(seed, index, docs))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(docs);
        for handle in handles {
            all.extend(
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("a generating thread panicked"))?,
            );
        }
        Ok(all)
    })
}

/// Prepares `documents` on `threads` threads, each adding what it prepared to the
/// writer; the summed seconds spent preparing and waiting to add.
fn prepare_and_add(
    index: &SearchIndex,
    documents: &[Document],
    threads: usize,
) -> anyhow::Result<(f64, f64)> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<(f64, f64)> {
                    let (mut preparing, mut adding) = (Duration::ZERO, Duration::ZERO);
                    loop {
                        let chunk = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = documents.chunks(CHUNK).nth(chunk) else {
                            break;
                        };
                        let started = Instant::now();
                        let prepared = chunk
                            .iter()
                            .map(|document| index.prepare(document))
                            .collect::<Result<Vec<_>, _>>()?;
                        let added = Instant::now();
                        for doc in prepared {
                            index.add_prepared(doc)?;
                        }
                        preparing += added - started;
                        adding += added.elapsed();
                    }
                    Ok((preparing.as_secs_f64(), adding.as_secs_f64()))
                })
            })
            .collect();
        let (mut preparing, mut adding) = (0.0, 0.0);
        for handle in handles {
            let (p, a) = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a preparing thread panicked"))??;
            preparing += p;
            adding += a;
        }
        Ok((preparing, adding))
    })
}

/// The segments the index's last commit lists (tantivy's `meta.json`).
fn segment_count(index_dir: &Path) -> usize {
    std::fs::read_to_string(index_dir.join("meta.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|meta| meta["segments"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Generates the documents and indexes them into `index_dir`; the index, still open.
fn build(seed: u64, docs: usize, index_dir: &Path) -> anyhow::Result<(SearchIndex, Built)> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let started = Instant::now();
    let documents = generate(seed, docs, threads)?;
    let generate_s = started.elapsed().as_secs_f64();
    // First, while nothing else runs: the main index's merges would count in its CPU.
    let bound = index_bound(&documents, threads)?;
    let (index, opened) = SearchIndex::open(index_dir, Analyzer::new(), threads)
        .with_context(|| format!("the search index in {}", index_dir.display()))?;
    if opened == Opened::Existing {
        bail!("{} already held an index", index_dir.display());
    }
    let started = Instant::now();
    let busy_before = machine_busy_seconds();
    let (prepare_s, add_wait_s) = prepare_and_add(&index, &documents, threads)?;
    let committing = Instant::now();
    index.commit()?;
    let commit_s = committing.elapsed().as_secs_f64();
    let index_s = started.elapsed().as_secs_f64();
    let machine_cores = busy_before
        .zip(machine_busy_seconds())
        .map(|(before, after)| ((after - before) / index_s * 100.0).round() / 100.0);
    drop(documents);
    let built = Built {
        generate_s,
        index_s,
        prepare_s,
        add_wait_s,
        commit_s,
        machine_cores,
        threads,
        documents: index.document_count(),
        index_bytes: index.bytes_on_disk(),
        segments: segment_count(index_dir),
        bound: Some(bound),
    };
    Ok((index, built))
}

/// Opens the index an earlier run built in `index_dir` (`--reuse-index`): nothing is
/// measured of indexing.
fn reopen(index_dir: &Path) -> anyhow::Result<(SearchIndex, Built)> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let (index, opened) = SearchIndex::open(index_dir, Analyzer::new(), threads)
        .with_context(|| format!("the search index in {}", index_dir.display()))?;
    if opened != Opened::Existing {
        bail!("{} held no index to reuse", index_dir.display());
    }
    let built = Built {
        generate_s: 0.0,
        index_s: 0.0,
        prepare_s: 0.0,
        add_wait_s: 0.0,
        commit_s: 0.0,
        machine_cores: None,
        threads,
        documents: index.document_count(),
        index_bytes: index.bytes_on_disk(),
        segments: segment_count(index_dir),
        bound: None,
    };
    Ok((index, built))
}

/// Queries answered by the index in this process.
struct Bound {
    /// On one thread.
    queries_per_second: f64,
    /// On one thread per core at once.
    all_cores_queries_per_second: f64,
    /// On one thread, by kind; sorted.
    by_kind_us: HashMap<Kind, Vec<u32>>,
    /// The slowest queries on one thread, with their times.
    slowest: Value,
}

/// What one thread of the bound answered.
struct Answered {
    count: u32,
    by_kind_us: HashMap<Kind, Vec<u32>>,
    /// The slowest few: microseconds and the query's place in the set, slowest first.
    slowest: Vec<(u32, usize)>,
}

/// The slowest queries the bound names.
const SLOWEST_KEPT: usize = 5;

/// Runs the query set against `index` on this thread for `seconds`, each answer
/// written as JSON as the server would.
fn answer_for(
    index: &SearchIndex,
    queries: &[Query],
    seconds: u64,
    rng: &mut StdRng,
) -> anyhow::Result<Answered> {
    let dictionary = IntentDictionary::starter();
    let context = plaza_search::Context::default();
    let now_ms = SystemClock.now().unix_ms();
    let mut answered = Answered {
        count: 0,
        by_kind_us: HashMap::new(),
        slowest: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let at = rng.random_range(0..queries.len());
        let query = &queries[at];
        let asked = Instant::now();
        let answer = index.search(
            &Request {
                q: &query.q,
                section: query.section,
                page: query.page,
                explain: false,
                context: &context,
                now_ms,
            },
            &dictionary,
        )?;
        std::hint::black_box(serde_json::to_vec(&answer)?);
        let took = u32::try_from(asked.elapsed().as_micros()).unwrap_or(u32::MAX);
        answered
            .by_kind_us
            .entry(query.kind)
            .or_default()
            .push(took);
        answered.count += 1;
        if !answered.slowest.iter().any(|(_, seen)| *seen == at) {
            answered.slowest.push((took, at));
            answered.slowest.sort_unstable_by(|a, b| b.cmp(a));
            answered.slowest.truncate(SLOWEST_KEPT);
        }
    }
    Ok(answered)
}

/// The machine's bound: the query set answered by `index` in this process, for
/// `seconds` on one thread, then for `seconds` on `threads` threads at once.
fn in_process_bound(
    index: &SearchIndex,
    queries: &[Query],
    seconds: u64,
    seed: u64,
    threads: usize,
) -> anyhow::Result<Bound> {
    let started = Instant::now();
    let mut one = answer_for(index, queries, seconds, &mut rng_for(seed, 0xB0D, 0))?;
    let queries_per_second = f64::from(one.count) / started.elapsed().as_secs_f64();
    for latencies in one.by_kind_us.values_mut() {
        latencies.sort_unstable();
    }
    let slowest = one
        .slowest
        .iter()
        .map(|&(took, at)| {
            let query = &queries[at];
            json!({
                "kind": query.kind.name(),
                "q": query.q,
                "section": query.section.map(Section::as_str),
                "page": query.page,
                "ms": f64::from(took) / 1000.0,
            })
        })
        .collect();
    let started = Instant::now();
    let answered_all = std::thread::scope(|scope| -> anyhow::Result<u32> {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    answer_for(index, queries, seconds, &mut rng_for(seed, 0xB0E, thread))
                })
            })
            .collect();
        let mut answered = 0;
        for handle in handles {
            answered += handle
                .join()
                .map_err(|_| anyhow::anyhow!("a querying thread panicked"))??
                .count;
        }
        Ok(answered)
    })?;
    Ok(Bound {
        queries_per_second,
        all_cores_queries_per_second: f64::from(answered_all) / started.elapsed().as_secs_f64(),
        by_kind_us: one.by_kind_us,
        slowest,
    })
}

/// The open loop's schedule, shared by the clients.
struct Schedule {
    address: std::net::SocketAddr,
    wires: Vec<(Kind, Vec<u8>)>,
    rate: u64,
    start: Instant,
    measure_from: Instant,
    measure_until: Instant,
    /// Requests due before `measure_until`.
    total: u64,
    next: AtomicU64,
    seed: u64,
}

impl Schedule {
    fn due(&self, request: u64) -> Instant {
        self.start + Duration::from_nanos(request * 1_000_000_000 / self.rate)
    }
}

/// One request as a client saw it.
struct Sample {
    kind: Kind,
    due: Instant,
    finished: Instant,
    /// From when it was due to its answer.
    latency_us: u32,
    /// From when it was sent to its answer.
    service_us: u32,
    ok: bool,
    empty: bool,
}

/// One client: takes the next request, waits until it is due, sends it, records it.
async fn client(schedule: Arc<Schedule>, task: usize) -> anyhow::Result<(Vec<Sample>, u64)> {
    let mut rng = rng_for(schedule.seed, 0xC11, task);
    let mut connection = Connection::open(schedule.address).await?;
    let mut samples = Vec::new();
    let mut unsent = 0;
    loop {
        let request = schedule.next.fetch_add(1, Ordering::Relaxed);
        if request >= schedule.total {
            break;
        }
        let due = schedule.due(request);
        if Instant::now() > schedule.measure_until + DRAIN {
            unsent += 1;
            continue;
        }
        tokio::time::sleep_until(due.into()).await;
        let (kind, wire) = pick(&mut rng, &schedule.wires);
        let sent = Instant::now();
        let answer = tokio::time::timeout(EXCHANGE_TIMEOUT, connection.exchange(wire)).await;
        let finished = Instant::now();
        let (ok, empty) = match answer {
            Ok(Ok((status, _, body))) => (status == 200, body.contains("\"sections\":[]")),
            _ => {
                connection = Connection::open(schedule.address).await?;
                (false, false)
            }
        };
        let micros =
            |from: Instant| u32::try_from((finished - from).as_micros()).unwrap_or(u32::MAX);
        samples.push(Sample {
            kind: *kind,
            due,
            finished,
            latency_us: micros(due),
            service_us: micros(sent),
            ok,
            empty,
        });
    }
    Ok((samples, unsent))
}

/// What the clients measured in the window.
struct Measured {
    /// Due in the window and answered 200, from when due; sorted.
    latencies_us: Vec<u32>,
    /// The same, from when sent; sorted.
    service_us: Vec<u32>,
    by_kind_us: HashMap<Kind, Vec<u32>>,
    /// Answered 200 within the window.
    completed_in_window: u64,
    errors: u64,
    unsent: u64,
    empty: u64,
    client_cores: Option<f64>,
    server_cores: Option<f64>,
    /// Every process's, this bench's and the server's included.
    machine_cores: Option<f64>,
}

/// Sums the clients' samples over the window.
fn summarise(schedule: &Schedule, samples: Vec<Sample>, unsent: u64) -> Measured {
    let mut measured = Measured {
        latencies_us: Vec::new(),
        service_us: Vec::new(),
        by_kind_us: HashMap::new(),
        completed_in_window: 0,
        errors: 0,
        unsent,
        empty: 0,
        client_cores: None,
        server_cores: None,
        machine_cores: None,
    };
    let window = schedule.measure_from..schedule.measure_until;
    for sample in samples {
        if !sample.ok {
            measured.errors += 1;
            continue;
        }
        if window.contains(&sample.finished) {
            measured.completed_in_window += 1;
        }
        if window.contains(&sample.due) {
            measured.latencies_us.push(sample.latency_us);
            measured.service_us.push(sample.service_us);
            measured
                .by_kind_us
                .entry(sample.kind)
                .or_default()
                .push(sample.latency_us);
            measured.empty += u64::from(sample.empty);
        }
    }
    measured.latencies_us.sort_unstable();
    measured.service_us.sort_unstable();
    for latencies in measured.by_kind_us.values_mut() {
        latencies.sort_unstable();
    }
    measured
}

/// Runs the open loop against `address` and measures the window.
async fn drive(
    address: std::net::SocketAddr,
    server_pid: u32,
    queries: &[Query],
    args: &SearchArgs,
) -> anyhow::Result<Measured> {
    let start = Instant::now() + Duration::from_millis(200);
    let measure_from = start + Duration::from_secs(args.warmup_seconds);
    let measure_until = measure_from + Duration::from_secs(args.seconds);
    let rate = u64::from(args.rate);
    let schedule = Arc::new(Schedule {
        address,
        wires: queries.iter().map(|q| (q.kind, q.wire())).collect(),
        rate,
        start,
        measure_from,
        measure_until,
        total: (args.warmup_seconds + args.seconds) * rate,
        next: AtomicU64::new(0),
        seed: args.seed,
    });
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|task| tokio::spawn(client(schedule.clone(), task)))
        .collect();
    let server_pid = server_pid.to_string();
    let cpu = tokio::spawn(async move {
        let read = || {
            (
                cpu_seconds("self"),
                cpu_seconds(&server_pid),
                machine_busy_seconds(),
            )
        };
        tokio::time::sleep_until(measure_from.into()).await;
        let before = read();
        tokio::time::sleep_until(measure_until.into()).await;
        (before, read())
    });
    let (mut samples, mut unsent) = (Vec::new(), 0);
    for task in tasks {
        let (some, missed) = task.await??;
        samples.extend(some);
        unsent += missed;
    }
    let mut measured = summarise(&schedule, samples, unsent);
    let (before, after) = cpu.await?;
    let window_s = (measure_until - measure_from).as_secs_f64();
    let cores = |before: Option<f64>, after: Option<f64>| {
        before
            .zip(after)
            .map(|(before, after)| ((after - before) / window_s * 100.0).round() / 100.0)
    };
    measured.client_cores = cores(before.0, after.0);
    measured.server_cores = cores(before.1, after.1);
    measured.machine_cores = cores(before.2, after.2);
    Ok(measured)
}

/// Seconds every core of the machine spent busy since boot (`/proc/stat`), so what
/// other processes took during the window shows beside the server and the clients.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((total - idle) / CLOCK_TICKS_PER_SECOND)
}

/// Linux's `USER_HZ`, the unit of `/proc` times.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// `GET` of an operator's search API on the running server.
async fn admin_get(base_url: &str, admin_token: &str, path: &str) -> anyhow::Result<Value> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    api_call(
        &client,
        reqwest::Method::GET,
        format!("{base_url}/api/v1/admin/search/{path}"),
        admin_token,
        None,
    )
    .await
}

/// The documents the running server's index holds, and whether it rebuilt it (a
/// rebuild from this data directory's empty database would leave none).
async fn served_documents(base_url: &str, admin_token: &str) -> anyhow::Result<(u64, Value)> {
    let progress = admin_get(base_url, admin_token, "reindex").await?;
    let documents = progress["documents"].as_u64().unwrap_or(0);
    Ok((documents, progress))
}

/// The server's answer-cache counts (`answer_cache` of the search stats).
async fn answer_cache(base_url: &str, admin_token: &str) -> anyhow::Result<Value> {
    let stats = admin_get(base_url, admin_token, "stats").await?;
    Ok(stats["answer_cache"].clone())
}

fn print(line: &str) -> anyhow::Result<()> {
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

/// Builds the index and measures the bound, off the async workers; the figures and the
/// query set.
async fn build_and_bound(
    args: &SearchArgs,
    index_dir: PathBuf,
) -> anyhow::Result<(Built, Bound, Vec<Query>)> {
    let (seed, docs, bound_seconds) = (args.seed, args.docs, args.bound_seconds);
    let reuse = args.reuse_index;
    tokio::task::spawn_blocking(move || -> anyhow::Result<(Built, Bound, Vec<Query>)> {
        let (index, built) = if reuse {
            reopen(&index_dir)?
        } else {
            build(seed, docs, &index_dir)?
        };
        print(&format!(
            "indexed {} documents in {:.1} s: {:.0} documents/s ({} threads, summed: preparing {:.1} s, waiting to add {:.1} s; commit {:.1} s; {} segments, {} MB); the bound: {} s of queries in process on one thread, then on every core…",
            built.documents,
            built.index_s,
            built.documents as f64 / built.index_s,
            built.threads,
            built.prepare_s,
            built.add_wait_s,
            built.commit_s,
            built.segments,
            built.index_bytes / 1_000_000,
            bound_seconds,
        ))?;
        if let Some(apart) = &built.bound {
            print(&format!(
                "indexing's parts apart, on {} documents of {:.1} tokens each: analysis {:.0} documents/s on one thread ({:.1} µs of CPU each), tantivy adding them {:.0} documents/s ({:.1} µs of CPU each): at most {:.0} documents/s on {} cores",
                apart.sample,
                apart.tokens as f64 / apart.sample as f64,
                apart.rate(apart.prepare_s),
                apart.per_doc_us(apart.prepare_cpu_s),
                apart.rate(apart.add_s),
                apart.per_doc_us(apart.add_cpu_s),
                apart.ceiling(),
                apart.cores,
            ))?;
        }
        let queries = query_set(seed, docs, QUERY_SET);
        let bound = in_process_bound(&index, &queries, bound_seconds, seed, built.threads)?;
        // The writer's lock must be free before `plaza serve` opens the index.
        drop(index);
        Ok((built, bound, queries))
    })
    .await?
}

pub(crate) async fn run(args: SearchArgs) -> anyhow::Result<Outcome> {
    if args.docs == 0 || args.rate == 0 || args.seconds == 0 || args.concurrency == 0 {
        bail!("--docs, --rate, --seconds and --concurrency must be at least 1");
    }
    let dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => tempfile_dir()?,
    };
    let index_dir = dir.join(INDEX_DIR);
    if index_dir.exists() && !args.reuse_index {
        bail!(
            "{} already holds a search index: give a data directory without one",
            dir.display()
        );
    }
    print(&format!(
        "search bench: generating and indexing {} documents (seed {}) in {}…",
        args.docs,
        args.seed,
        index_dir.display()
    ))?;
    let lock = crate::datadir::DataDir::open(&dir)?;
    let built = build_and_bound(&args, index_dir).await;
    drop(lock);
    let (built, bound, queries) = match built {
        Ok(built) => built,
        Err(error) => {
            if args.data_dir.is_none() {
                let _removed = std::fs::remove_dir_all(&dir);
            }
            return Err(error);
        }
    };
    if args.bound_only {
        return report_bound(&built, &bound);
    }
    let mut server = start_server_in(dir, &[])?;
    if args.data_dir.is_some() {
        server.keep_data_dir();
    }
    let address: std::net::SocketAddr = server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .context("the server's address")?;
    let (served_before, _) = served_documents(&server.base_url, &server.admin_token).await?;
    print(&format!(
        "in process: {:.0} queries/s on one thread, {:.0} on every core; plaza serve holds {served_before} documents; {} queries/s from {} clients for {} s (+{} s warm-up)…",
        bound.queries_per_second,
        bound.all_cores_queries_per_second,
        args.rate,
        args.concurrency,
        args.seconds,
        args.warmup_seconds,
    ))?;
    let measured = drive(address, server.child.id(), &queries, &args).await?;
    let (served_after, progress) = served_documents(&server.base_url, &server.admin_token).await?;
    let cache = answer_cache(&server.base_url, &server.admin_token).await?;
    drop(server);
    let kept = served_before == built.documents
        && served_after == built.documents
        && progress["finished"].as_u64() == Some(0);
    report(&args, &built, &bound, &measured, kept, &progress, &cache)
}

/// `--bound-only`'s figures: the engine alone, in process.
fn report_bound(built: &Built, bound: &Bound) -> anyhow::Result<Outcome> {
    let figures = json!({
        "bench": "search",
        "docs": built.documents,
        "index_docs_per_second": (built.documents as f64 / built.index_s).round(),
        "index_bound": built.bound.as_ref().map(IndexBound::figures),
        "bound_queries_per_second_one_thread": bound.queries_per_second.round(),
        "bound_queries_per_second_all_cores": bound.all_cores_queries_per_second.round(),
        "bound_by_kind": kind_figures(&bound.by_kind_us),
        "bound_slowest": bound.slowest,
    });
    print(&figures.to_string())?;
    Ok(Outcome::Success)
}

/// The share of searches the server's answer cache answered.
fn hit_ratio(cache: &Value) -> f64 {
    let (hits, misses) = (
        cache["hits"].as_u64().unwrap_or(0),
        cache["misses"].as_u64().unwrap_or(0),
    );
    if hits + misses == 0 {
        0.0
    } else {
        round(hits as f64 / (hits + misses) as f64, 3)
    }
}

fn kind_figures(by_kind_us: &HashMap<Kind, Vec<u32>>) -> Value {
    let mut figures = serde_json::Map::new();
    for kind in Kind::ALL {
        let latencies = by_kind_us.get(&kind).map_or(&[][..], Vec::as_slice);
        figures.insert(
            kind.name().to_owned(),
            json!({
                "count": latencies.len(),
                "p50_ms": percentile_ms(latencies, 0.50),
                "p99_ms": percentile_ms(latencies, 0.99),
            }),
        );
    }
    Value::Object(figures)
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10_f64.powi(places);
    (value * scale).round() / scale
}

fn report(
    args: &SearchArgs,
    built: &Built,
    bound: &Bound,
    measured: &Measured,
    kept: bool,
    progress: &Value,
    cache: &Value,
) -> anyhow::Result<Outcome> {
    let queries_per_second = measured.completed_in_window as f64 / args.seconds as f64;
    let figures = json!({
        "bench": "search",
        "docs": built.documents,
        "index_docs_per_second": (built.documents as f64 / built.index_s).round(),
        "queries_per_second": queries_per_second.round(),
        "p50_ms": percentile_ms(&measured.latencies_us, 0.50),
        "p99_ms": percentile_ms(&measured.latencies_us, 0.99),
        "index_bytes": built.index_bytes,
        "rate": args.rate,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup_seconds,
        "concurrency": args.concurrency,
        "errors": measured.errors,
        "unsent": measured.unsent,
        "empty_answers": measured.empty,
        "max_ms": percentile_ms(&measured.latencies_us, 1.0),
        "service_p50_ms": percentile_ms(&measured.service_us, 0.50),
        "service_p99_ms": percentile_ms(&measured.service_us, 0.99),
        "by_kind": kind_figures(&measured.by_kind_us),
        "index": built.figures(),
        "index_bound": built.bound.as_ref().map(IndexBound::figures),
        "bound_queries_per_second_one_thread": bound.queries_per_second.round(),
        "bound_queries_per_second_all_cores": bound.all_cores_queries_per_second.round(),
        "bound_by_kind": kind_figures(&bound.by_kind_us),
        "bound_slowest": bound.slowest,
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "server_cores_used": measured.server_cores,
        "client_cores_used": measured.client_cores,
        "machine_cores_used": measured.machine_cores,
        "index_kept_by_server": kept,
        "answer_cache": cache,
        "answer_cache_hit_ratio": hit_ratio(cache),
        "server_reindex": progress,
    });
    print(&format!(
        "search: {} documents indexed at {} documents/s ({} MB on disk); {} queries/s of {} offered, p50 {} ms, p99 {} ms (from when due; {} ms from when sent); in process (no answer cache) {} queries/s on one thread, {} on every core; answer cache hit ratio {}; the server used {} cores, every process {}; {} errors, {} unsent{}",
        figures["docs"],
        figures["index_docs_per_second"],
        built.index_bytes / 1_000_000,
        figures["queries_per_second"],
        args.rate,
        figures["p50_ms"],
        figures["p99_ms"],
        figures["service_p99_ms"],
        figures["bound_queries_per_second_one_thread"],
        figures["bound_queries_per_second_all_cores"],
        figures["answer_cache_hit_ratio"],
        figures["server_cores_used"],
        figures["machine_cores_used"],
        measured.errors,
        measured.unsent,
        if kept {
            ""
        } else {
            "; THE SERVER DID NOT SERVE THE INDEX AS BUILT"
        },
    ))?;
    print(&figures.to_string())?;
    Ok(if measured.errors == 0 && kept {
        Outcome::Success
    } else {
        Outcome::Found
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_the_same_for_a_seed_and_differ_across_seeds() {
        for index in [0, 1, 17, 999] {
            assert_eq!(document(7, index, 1_000), document(7, index, 1_000));
        }
        let titles = |seed| -> Vec<String> {
            (0..50)
                .map(|index| document(seed, index, 1_000).title)
                .collect()
        };
        assert_ne!(titles(7), titles(8));
    }

    #[test]
    fn sections_are_mixed_as_asked_and_texts_are_as_long_as_asked() {
        let docs = 20_000;
        let mut counts: HashMap<Section, usize> = HashMap::new();
        for index in 0..docs {
            let document = document(3, index, docs);
            let title = document.title.chars().count();
            assert!((2..=12).contains(&title), "{document:?}");
            assert!(document.body.chars().count() <= 120, "{document:?}");
            if document.section != Section::Merchants {
                assert!(document.body.chars().count() >= 20, "{document:?}");
            }
            *counts.entry(document.section).or_default() += 1;
        }
        for (section, percent) in [
            (Section::Posts, 60.0),
            (Section::MiniPrograms, 15.0),
            (Section::Creators, 10.0),
            (Section::Merchants, 8.0),
            (Section::Services, 5.0),
            (Section::Corps, 2.0),
        ] {
            let share = counts.get(&section).copied().unwrap_or(0) as f64 * 100.0 / docs as f64;
            assert!((share - percent).abs() < 1.0, "{section:?}: {share} %");
        }
    }

    #[test]
    fn services_and_posts_belong_to_generated_owners() {
        let docs = 2_000;
        for index in 0..docs {
            let document = document(5, index, docs);
            let owner = match document.section {
                Section::Services => owner_of(5, index, docs, Section::MiniPrograms),
                Section::Posts => owner_of(5, index, docs, Section::Creators),
                _ => continue,
            };
            let expected = super::document(5, owner, docs);
            assert_eq!(document.owner, expected.id);
            if document.section == Section::Services {
                assert_eq!(document.card["app_name"], json!(expected.title));
            }
        }
    }

    #[test]
    fn the_query_set_holds_every_kind_in_its_share() {
        let queries = query_set(11, 10_000, 10_000);
        for kind in Kind::ALL {
            let count = queries.iter().filter(|q| q.kind == kind).count();
            let expected = kind.share() as usize * 100;
            assert!(count.abs_diff(expected) < 300, "{kind:?}: {count}");
        }
        assert!(queries.iter().all(|q| !q.q.trim().is_empty()));
        assert!(
            queries
                .iter()
                .any(|q| q.section == Some(Section::Posts) && q.page == 1)
        );
        let wire = String::from_utf8_lossy(&queries[0].wire()).into_owned();
        assert!(wire.starts_with("GET /api/v1/search?q="), "{wire}");
    }

    #[test]
    fn hand_spelled_pinyin_is_what_the_engine_indexes() {
        for (word, full, initials) in ALL_WORDS.iter().flat_map(|list| list.iter()) {
            let (spellings, letters) = plaza_search::analyze::spellings(word);
            assert!(spellings.iter().any(|s| s == full), "{word}: {spellings:?}");
            assert!(letters.iter().any(|s| s == initials), "{word}: {letters:?}");
        }
    }
}
