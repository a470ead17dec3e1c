/**
 * The `--html FILE` report: one self-contained page (no network, nothing beside it). The result is
 * embedded as JSON in a `<script type="application/json">` tag, compacted (points as arrays, numbers at
 * 4 significant digits, per-point gates deduplicated), and the page's own inline script draws
 * everything client-side: the header, a heatmap of layers x capture points as inline SVG (one step at a
 * time, with a step selector and a steps x layers overview), a per-point detail panel with the per-token
 * error strip, the weight diff, the config diff and the experiments. No charting library: the charts are
 * coloured rectangles, and SVG gives each cell a DOM element to hover, click and test (docs/report.md).
 * Pure: a ComparisonResult in, a string out.
 */
import { describe } from "../format.js";
import type { ComparisonResult, PointResult, SampleMetrics } from "../result.js";

/** A number for the page: 4 significant digits; non-finite numbers as strings (JSON has none). */
function num(x: number | null | undefined): number | string | null {
  if (x === null || x === undefined) return null;
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  return Number(x.toPrecision(4));
}

/** A number that came through a saved JSON report ("Infinity" strings, null for NaN). */
function revive(x: unknown): number | null {
  if (typeof x === "number") return x;
  if (x === "Infinity") return Infinity;
  if (x === "-Infinity") return -Infinity;
  return null;
}

function metricsRow(m: SampleMetrics | null): unknown[] | null {
  if (!m) return null;
  const n = (x: unknown) => num(revive(x));
  return [m.basis === "tensor" ? "t" : "s", m.count, n(m.maxAbs), n(m.meanAbs), n(m.nmse), n(m.sqnrDb), n(m.cosine), m.nonfiniteA, m.nonfiniteB, n(m.meanDelta), n(m.stdDelta), n(m.l2Rel), n(m.absmaxDelta)];
}

/** The page's data: the result without its points, and the points compacted (the page decodes them). */
export function pageData(r: ComparisonResult): unknown {
  const gates: unknown[] = [];
  const gateIdx = new Map<string, number>();
  const rows = r.points.map((p: PointResult) => {
    const g = JSON.stringify(p.gate);
    let gi = gateIdx.get(g);
    if (gi === undefined) {
      gi = gates.length;
      gates.push(p.gate);
      gateIdx.set(g, gi);
    }
    const all = metricsRow(p.all);
    const last = metricsRow(p.last);
    const lastOut = last && JSON.stringify(last) === JSON.stringify(all) ? 0 : last;
    const key = p.layer !== null && p.key === `blk.${p.layer}.${p.point}` ? 0 : p.key;
    return [key, p.point, p.layer, p.step, p.status, p.shapeA, p.shapeB, gi, all, lastOut, p.note ?? null, p.perToken ? p.perToken.map((x) => num(revive(x))) : null, p.diff ? { ...p.diff, worst: p.diff.worst.map((w) => ({ index: w.index, a: num(w.a), b: num(w.b) })) } : null];
  });
  const { points: _points, firstDivergence, weights, ...rest } = r;
  const fd = firstDivergence ? r.points.findIndex((p) => p.key === firstDivergence.key && p.step === firstDivergence.step) : -1;
  return {
    kind: "comparison",
    r: {
      ...rest,
      firstDivergence: firstDivergence ? { key: firstDivergence.key, step: firstDivergence.step, status: firstDivergence.status, index: fd } : null,
      weights: weights ? { ...weights, tensors: weights.tensors.map((t) => ({ ...t, desc: describe(t) })) } : undefined,
    },
    gates,
    points: rows,
  };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The embedded JSON: `<` escaped so that no string in it can close the script tag. */
export function embedJson(data: unknown): string {
  return JSON.stringify(data).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** The page around a data object; shared with the parity report (src/parity/html.ts). */
export function htmlDocument(title: string, data: unknown): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<noscript><p>This report draws itself with an inline script; enable JavaScript to see it. The data is in the script tag with id "rosetta-data" (JSON).</p></noscript>
<main id="app"></main>
<div id="tip" class="tip" hidden></div>
<script type="application/json" id="rosetta-data">${embedJson(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** The comparison page for a ComparisonResult. */
export function renderHtml(r: ComparisonResult): string {
  return htmlDocument(`rosetta: ${r.verdict} — ${r.a.source} vs ${r.b.source}`, pageData(r));
}

const CSS = String.raw`
:root{--fg:#1d2330;--mut:#5b6474;--bd:#d9dde5;--bg:#fff;--soft:#f5f6f8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1400px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid var(--bd);padding-bottom:4px}
h3{font-size:14px;margin:12px 0 6px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;font-weight:700;color:#fff;margin-right:8px}
.v-MATCH{background:#2e7d32}.v-DRIFT{background:#b7791f}.v-SUMMARIES{background:#3f6fb5}.v-DIVERGED{background:#c62828}.v-INCOMPARABLE{background:#6d4c8d}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:10px 0}
.side{border:1px solid var(--bd);border-radius:6px;padding:8px 10px;background:var(--soft)}
.side b{font-size:13px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;font-size:13px}
.kv>span:nth-child(odd){color:var(--mut)}
.box{border:1px solid var(--bd);border-radius:6px;padding:8px 12px;margin:8px 0}
.bad{border-left:4px solid #c62828}.warn{border-left:4px solid #b7791f}.ok{border-left:4px solid #2e7d32}
ul{margin:4px 0;padding-left:20px}
.legend{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0;font-size:12.5px}
.legend span{display:inline-flex;align-items:center;gap:4px}
.sw{display:inline-block;width:14px;height:14px;border:1px solid #0003}
.controls{display:flex;align-items:center;gap:10px;margin:6px 0;flex-wrap:wrap}
.maps{display:flex;gap:18px;align-items:flex-start;flex-wrap:wrap}
svg text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#333}
svg .cell{stroke:#fff;stroke-width:1;cursor:pointer}
svg .cell:hover{stroke:#000;stroke-width:1.5}
svg .sel{fill:none;stroke:#1565c0;stroke-width:2.5;pointer-events:none}
svg .first{fill:none;stroke:#000;stroke-width:3;pointer-events:none}
.detail{min-width:340px;max-width:520px;flex:1}
.tip{position:fixed;pointer-events:none;background:#1d2330;color:#fff;padding:6px 8px;border-radius:4px;font-size:12px;max-width:420px;z-index:10;white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0}
th,td{border-bottom:1px solid var(--bd);padding:3px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);position:sticky;top:0}
td.n{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace}
tr.fail td{background:#fdecea}tr.tie td{background:#fff8e1}
.st{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px}
.muted{color:var(--mut)}
button{font:inherit;padding:2px 8px}
details summary{cursor:pointer}
`;

/* The page's script: plain ES2020, no template literals (this file embeds it in one). */
const SCRIPT = String.raw`
(function(){
"use strict";
var D=JSON.parse(document.getElementById("rosetta-data").textContent);
var app=document.getElementById("app"),tip=document.getElementById("tip");
function num(v){return v==="inf"?Infinity:v==="-inf"?-Infinity:v==="nan"?NaN:v==="Infinity"?Infinity:v==="-Infinity"?-Infinity:v;}
function fmt(x){x=num(x);if(x===null||x===undefined)return "n/a";if(typeof x!=="number")return String(x);if(isNaN(x))return "NaN";if(!isFinite(x))return x>0?"inf":"-inf";if(x===0)return "0";
 if(Math.abs(x)>=1e4||Math.abs(x)<1e-3)return x.toExponential(2).replace(/\.?0+e/,"e");return String(Number(x.toPrecision(4)));}
function el(tag,attrs,kids){var e=document.createElement(tag);if(attrs)for(var k in attrs){if(attrs[k]===null||attrs[k]===undefined)continue;if(k==="text")e.textContent=attrs[k];else if(k==="cls")e.className=attrs[k];else e.setAttribute(k,attrs[k]);}
 if(kids)for(var i=0;i<kids.length;i++){var c=kids[i];if(c===null||c===undefined)continue;e.appendChild(typeof c==="string"?document.createTextNode(c):c);}return e;}
var SVGNS="http://www.w3.org/2000/svg";
function sv(tag,attrs){var e=document.createElementNS(SVGNS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);return e;}
function show(v){return typeof v==="string"?v:JSON.stringify(v);}
function kv(pairs){var d=el("div",{cls:"kv"});pairs.forEach(function(p){if(p[1]===undefined||p[1]===null||p[1]==="")return;d.appendChild(el("span",{text:p[0]}));d.appendChild(el("span",{cls:p[2]||"",text:String(p[1])}));});return d;}

/* status -> colour. Shades encode log10(NMSE / bound): green for a match (darker = nearer the threshold),
   amber within the band, red above it (darker = further above), purple NaN/Inf, blue summaries only,
   grey not compared, a pale cell where no point was captured. */
var LEGEND=[["match","match (full tensors, under the threshold)","#4caf50"],["drift","within band (precision drift, a pass)","#f2b01e"],["diverged","diverged (above the bound)","#d32f2f"],
 ["nonfinite","NaN / Inf","#8e24aa"],["summary-agree","summaries only (agree, not verified)","#7fa7dc"],["not-compared","not compared (one side only / sample mismatch)","#9e9e9e"],["absent","not captured","#f1f1f1"]];
function onSummaries(r){return (r.verdict==="MATCH"||r.verdict==="DRIFT")&&(r.verifiedOn==="summaries-only"||r.verifiedOn==="partly-summaries");}
function clamp(x,a,b){return Math.max(a,Math.min(b,x));}
function nm(p){var m=p.all||p.last;return m?num(m.nmse):null;}
function colour(p){
 if(!p)return "#f1f1f1";
 var g=p.gate,n=nm(p);
 switch(p.status){
 case "match":{var t=(n===null||n<=0)?0:clamp((Math.log10(n)-Math.log10(g.threshold)+8)/8,0,1);return "hsl(125,55%,"+(72-30*t).toFixed(1)+"%)";}
 case "drift":{var t2=(n===null||n<=0)?0:clamp((Math.log10(n)-Math.log10(g.threshold))/Math.max(0.5,Math.log10(g.band/g.threshold)),0,1);return "hsl("+(48-10*t2).toFixed(1)+",92%,52%)";}
 case "diverged":{var e=(n===null||!(n>0))?0:clamp(Math.log10(n/g.band)/4,0,1);return "hsl(0,72%,"+(55-25*e).toFixed(1)+"%)";}
 case "nonfinite":return "#8e24aa";
 case "summary-agree":return "#7fa7dc";
 default:return "#9e9e9e";}}
var STATUS_TEXT={match:"match",drift:"within band",diverged:"DIVERGED","summary-agree":"summaries agree (not verified)",nonfinite:"NaN/Inf","sample-mismatch":"sample mismatch (not compared)","only-a":"only in A (not compared)","only-b":"only in B (not compared)"};
var RANK={match:0,drift:1,"summary-agree":2,"only-a":3,"only-b":3,"sample-mismatch":4,diverged:5,nonfinite:6};

if(D.kind==="parity"){parity();return;}
var R=D.r;
function metrics(a){if(!a)return null;return {basis:a[0]==="t"?"tensor":"summary",count:a[1],maxAbs:a[2],meanAbs:a[3],nmse:a[4],sqnrDb:a[5],cosine:a[6],nonfiniteA:a[7],nonfiniteB:a[8],meanDelta:a[9],stdDelta:a[10],l2Rel:a[11],absmaxDelta:a[12]};}
var P=D.points.map(function(a,i){var all=metrics(a[8]);return {i:i,key:a[0]===0?"blk."+a[2]+"."+a[1]:a[0],point:a[1],layer:a[2],step:a[3],status:a[4],shapeA:a[5],shapeB:a[6],gate:D.gates[a[7]],all:all,last:a[9]===0?all:metrics(a[9]),note:a[10],perToken:a[11],diff:a[12]||null};});
var FD=R.firstDivergence?P[R.firstDivergence.index]||null:null;
var steps=[],stepSet={},cols=[],colSet={},layers=0,hasEmbd=false,hasOut=false;
P.forEach(function(p){if(!stepSet[p.step]){stepSet[p.step]=1;steps.push(p.step);}if(!colSet[p.point]){colSet[p.point]=1;cols.push(p.point);}
 if(p.layer!==null)layers=Math.max(layers,p.layer+1);else if(p.point==="embd"||p.point==="inp_embd")hasEmbd=true;else hasOut=true;});
steps.sort(function(a,b){return a-b;});
var rows=[];if(hasEmbd)rows.push({label:"input",layer:"in"});for(var l=0;l<layers;l++)rows.push({label:"L"+l,layer:l});if(hasOut)rows.push({label:"output",layer:"out"});
function rowOf(p){return p.layer!==null?p.layer:(p.point==="embd"||p.point==="inp_embd")?"in":"out";}
var byStep={};P.forEach(function(p){var s=byStep[p.step]||(byStep[p.step]={});s[rowOf(p)+"|"+p.point]=p;});
var state={step:FD?FD.step:steps[0],sel:FD};

function side(s,label){
 var st=s.settings||{},sets=Object.keys(st).map(function(k){return k+"="+show(st[k]);}).join(", ");
 return el("div",{cls:"side"},[el("b",{text:label}),kv([["source",s.source],["engine",s.engine],["numerics",st.numerics!==undefined?show(st.numerics):""],["settings",sets],["type",s.fileType],
  ["tokens",s.tokens&&s.tokens.join(", ")],["generated",s.generated&&s.generated.length?s.generated.join(", ")+(s.forced?" (teacher forced)":""):""],
  ["imported",s.imported?s.imported.format+(s.imported.notes.length?": "+s.imported.notes.join("; "):""):""]])]);}
function findingBox(f,main){
 var b=el("div",{cls:"box "+(f.fatal?"bad":"warn")+(main?" diagnosis":"")},[el("div",{},[el("b",{text:(main?"Diagnosis: ":"")+f.title}),el("span",{cls:"muted",text:"  ["+f.id+"] at "+f.where+(f.step?" (step "+f.step+")":"")})])]);
 if(f.evidence&&f.evidence.length)b.appendChild(el("ul",{},f.evidence.map(function(e){return el("li",{text:e});})));
 if(f.recommendation)b.appendChild(el("div",{},[el("b",{text:"Recommendation: "}),f.recommendation]));
 if(f.experiment){var x=f.experiment;b.appendChild(el("div",{cls:"muted",text:"Experiment: transplanted "+(x.transplanted.join(", ")||"nothing")+": "+(x.explainsAll?"every point then matches (explains it all)":"first divergence then at "+(x.firstDivergenceAfter?x.firstDivergenceAfter.key+" step "+x.firstDivergenceAfter.step+" nmse "+fmt(x.firstDivergenceAfter.nmse):"none"))}));}
 return b;}

function header(){
 app.appendChild(el("h1",{},["rosetta comparison: ",el("span",{cls:"muted",text:R.a.source+"  vs  "+R.b.source+" (reference)"})]));
 app.appendChild(el("div",{},[el("span",{id:"verdict",cls:"verdict v-"+(onSummaries(R)?"SUMMARIES":R.verdict),text:R.verdict+(onSummaries(R)?" on summaries (not a full-tensor match)":"")}),
  el("span",{id:"first-divergence",text:FD?"first divergence: "+FD.key+(steps.length>1?" at step "+FD.step:"")+" ("+STATUS_TEXT[FD.status]+", nmse "+fmt(nm(FD))+" vs bound "+fmt(FD.gate.band)+")":"no divergence"})]));
 app.appendChild(el("div",{cls:"sides"},[side(R.a,"A"),side(R.b,"B (reference)")]));
 var c=R.counts||{};
 app.appendChild(kv([["regime",R.regime?R.regime.id+": "+R.regime.why:""],["threshold",fmt(R.threshold)+(R.thresholdExplicit?" (explicit: the bound)":"")],
  ["band",R.band?R.band.id+" nmse "+fmt(R.band.nmse)+(R.band.provisional?" (provisional)":"")+" — "+R.band.basis:"none"],
  ["points",Object.keys(c).filter(function(k){return c[k];}).map(function(k){return c[k]+" "+k;}).join(", ")]]));
 if(R.diagnosis)app.appendChild(findingBox(R.diagnosis,true));
 (R.warnings||[]).forEach(function(w){app.appendChild(el("div",{cls:"box warn",text:"warning: "+w}));});
 (R.notes||[]).forEach(function(w){app.appendChild(el("div",{cls:"box muted",text:"note: "+w}));});}

var CW=30,CH=16,LW=58,TH=78;
function heatmap(){
 app.appendChild(el("h2",{text:"Layers x capture points (colour: log10 NMSE against the bound in force)"}));
 var lg=el("div",{cls:"legend",id:"legend"});LEGEND.forEach(function(x){lg.appendChild(el("span",{},[el("span",{cls:"sw",style:"background:"+x[2]}),x[1]]));});
 lg.appendChild(el("span",{},[el("span",{cls:"sw",style:"background:#fff;outline:3px solid #000;outline-offset:-3px"}),"first divergence"]));
 app.appendChild(lg);
 app.appendChild(el("div",{cls:"muted",text:"Shade: match cells darken from 1e-8 of the threshold up to it; within-band cells go from the threshold to the band; diverged cells darken over 4 decades above the bound. Hover a cell for its metrics, click to pin it."}));
 var ctl=el("div",{cls:"controls",id:"step-controls"});
 if(steps.length>1){
  var range=el("input",{type:"range",id:"step",min:"0",max:String(steps.length-1),value:String(steps.indexOf(state.step))});
  var lab=el("span",{id:"step-label"});
  range.addEventListener("input",function(){setStep(steps[+range.value]);});
  var prev=el("button",{text:"◀",id:"step-prev"}),next=el("button",{text:"▶",id:"step-next"});
  prev.onclick=function(){var i=steps.indexOf(state.step);if(i>0)setStep(steps[i-1]);};next.onclick=function(){var i=steps.indexOf(state.step);if(i<steps.length-1)setStep(steps[i+1]);};
  ctl.appendChild(el("b",{text:"step"}));ctl.appendChild(prev);ctl.appendChild(range);ctl.appendChild(next);ctl.appendChild(lab);
  if(FD){var go=el("button",{text:"go to first divergence",id:"step-first"});go.onclick=function(){state.sel=FD;setStep(FD.step);};ctl.appendChild(go);}
 }
 app.appendChild(ctl);
 var maps=el("div",{cls:"maps"});var holder=el("div",{id:"heatmap"});maps.appendChild(holder);
 var det=el("div",{cls:"detail box",id:"detail"},[el("span",{cls:"muted",text:"Click a cell to pin its metrics here."})]);maps.appendChild(det);
 app.appendChild(maps);
 if(steps.length>1){app.appendChild(el("h3",{text:"Steps x layers (worst status of each layer at each step; click to select the step)"}));app.appendChild(el("div",{id:"overview"}));drawOverview();tokensTable();}
 setStep(state.step);}
function cellTip(p){var m=p.all,s=p.key+" step "+p.step+"  "+STATUS_TEXT[p.status];
 if(m)s+="\nnmse "+(m.basis==="summary"?">=":"=")+fmt(m.nmse)+"  max_diff "+fmt(m.maxAbs)+"  sqnr "+fmt(m.sqnrDb)+"dB"+(m.cosine!==null?"  cos "+fmt(m.cosine):"");
 s+="\nbound: threshold "+fmt(p.gate.threshold)+", band "+fmt(p.gate.band)+(p.gate.bandId?" ("+p.gate.bandId+")":"");if(p.note)s+="\n"+p.note;return s;}
function drawMap(){
 var h=document.getElementById("heatmap");h.textContent="";var map=byStep[state.step]||{};
 var W=LW+cols.length*CW+4,H=TH+rows.length*CH+4;var s=sv("svg",{width:W,height:H,viewBox:"0 0 "+W+" "+H,id:"map-svg"});
 cols.forEach(function(c,j){var t=sv("text",{x:LW+j*CW+CW/2,y:TH-4,transform:"rotate(-60 "+(LW+j*CW+CW/2)+" "+(TH-4)+")"});t.textContent=c;s.appendChild(t);});
 rows.forEach(function(r,i){var t=sv("text",{x:LW-4,y:TH+i*CH+CH-4,"text-anchor":"end"});t.textContent=r.label;s.appendChild(t);
  cols.forEach(function(c,j){var p=map[r.layer+"|"+c];var rc=sv("rect",{x:LW+j*CW,y:TH+i*CH,width:CW,height:CH,fill:colour(p),"class":"cell"});
   if(p){rc.setAttribute("data-key",p.key);rc.setAttribute("data-status",p.status);rc.setAttribute("data-step",p.step);
    rc.addEventListener("mousemove",function(ev){tip.hidden=false;tip.textContent=cellTip(p);tip.style.left=(ev.clientX+14)+"px";tip.style.top=(ev.clientY+14)+"px";showDetail(p,true);});
    rc.addEventListener("mouseleave",function(){tip.hidden=true;showDetail(state.sel,false);});
    rc.addEventListener("click",function(){state.sel=p;drawMap();});}
   else rc.setAttribute("data-status","absent");
   s.appendChild(rc);});});
 rows.forEach(function(r,i){cols.forEach(function(c,j){var p=map[r.layer+"|"+c];if(!p)return;
  if(FD&&p===FD)s.appendChild(sv("rect",{x:LW+j*CW+1.5,y:TH+i*CH+1.5,width:CW-3,height:CH-3,"class":"first",id:"first-cell","data-key":p.key}));
  if(state.sel&&p===state.sel&&p!==FD)s.appendChild(sv("rect",{x:LW+j*CW+1,y:TH+i*CH+1,width:CW-2,height:CH-2,"class":"sel"}));});});
 h.appendChild(s);showDetail(state.sel&&state.sel.step===state.step?state.sel:null,false);}
function mrows(m){if(!m)return [];var b=m.basis==="summary"?" (bound from summaries)":"";
 return [["basis",m.basis==="tensor"?"full tensors":"summaries (bounds)"],["elements",m.count],["nmse",fmt(m.nmse)+b],["max |diff|",fmt(m.maxAbs)],["mean |diff|",fmt(m.meanAbs)],["sqnr dB",fmt(m.sqnrDb)],["cosine",m.cosine===null?"":fmt(m.cosine)],
  ["NaN/Inf A / B",m.nonfiniteA+" / "+m.nonfiniteB],["mean Δ",fmt(m.meanDelta)],["std Δ",fmt(m.stdDelta)],["l2 rel Δ",fmt(m.l2Rel)],["absmax Δ",fmt(m.absmaxDelta)]];}
function showDetail(p,hover){var d=document.getElementById("detail");if(!d)return;d.textContent="";
 if(!p){d.appendChild(el("span",{cls:"muted",text:"Click a cell to pin its metrics here."}));return;}
 d.setAttribute("data-key",p.key);d.setAttribute("data-step",p.step);
 d.appendChild(el("div",{},[el("b",{cls:"mono",text:p.key}),"  step "+p.step+"  ",el("span",{cls:"st",style:"background:"+colour(p)+";color:"+(p.status==="match"||p.status==="drift"?"#000":"#fff"),text:STATUS_TEXT[p.status]}),hover?el("span",{cls:"muted",text:" (hover)"}):null,p===FD?el("b",{text:"  first divergence"}):null]));
 var dims=function(x){return x?"["+x.join(", ")+"]":"-";};
 d.appendChild(kv([["shape",p.shapeA&&p.shapeB&&p.shapeA.join()===p.shapeB.join()?dims(p.shapeA)+" both":"A "+dims(p.shapeA)+"  B "+dims(p.shapeB)],["bound","threshold "+fmt(p.gate.threshold)+", band "+fmt(p.gate.band)+(p.gate.bandId?" ("+p.gate.bandId+")":"")+(p.gate.expected?" expected "+p.gate.expected:"")],["note",p.note]]));
 if(p.all){d.appendChild(el("h3",{text:"all tokens"}));d.appendChild(kv(mrows(p.all)));}
 if(p.last&&p.last!==p.all){d.appendChild(el("h3",{text:"last token"}));d.appendChild(kv(mrows(p.last)));}
 if(p.perToken&&p.perToken.length){d.appendChild(el("h3",{text:"per-token NMSE"}));d.appendChild(strip(p));}
 if(p.diff){d.appendChild(el("h3",{text:"elements (full tensors)"}));d.appendChild(elements(p.diff));}}
function elements(x){var box=el("div",{cls:"elements"});var n=x.differing;box.appendChild(el("div",{text:n?n+" element(s) differ":"every element equal"}));
 if(!n)return box;var max=0;x.hist.forEach(function(h){max=Math.max(max,h[1]);});var W=300,H=14,s=sv("svg",{width:W+130,height:x.hist.length*(H+2)+2,"class":"hist"});
 x.hist.forEach(function(h,i){var lab=h[0]===99?"NaN/Inf":h[0]===-99?"< 1e-99":"1e"+h[0]+"..1e"+(h[0]+1);var t=sv("text",{x:0,y:i*(H+2)+H-3,"font-size":"11"});t.textContent=lab;s.appendChild(t);
  s.appendChild(sv("rect",{x:80,y:i*(H+2)+1,width:Math.max(1,Math.round(W*h[1]/max)),height:H,fill:"#888"}));var c=sv("text",{x:84+Math.round(W*h[1]/max),y:i*(H+2)+H-3,"font-size":"11"});c.textContent=String(h[1]);s.appendChild(c);});
 box.appendChild(s);var tb=el("table",{cls:"worst"},[el("tr",{},["worst at","A","B","|A-B|"].map(function(h){return el("th",{text:h});}))]);
 x.worst.forEach(function(w){tb.appendChild(el("tr",{},[el("td",{cls:"mono",text:"["+w.index.join(", ")+"]"}),el("td",{text:fmt(num(w.a))}),el("td",{text:fmt(num(w.b))}),el("td",{text:fmt(Math.abs(num(w.a)-num(w.b)))})]));});
 box.appendChild(tb);return box;}
function strip(p){var n=p.perToken.length,w=Math.max(8,Math.min(40,Math.floor(460/n))),H=22;var s=sv("svg",{width:n*w+2,height:H+14,"class":"strip"});
 var toks=p.step===0?R.b.tokens:[];
 p.perToken.forEach(function(v,i){var x=num(v);var st=x===null?"only-a":isNaN(x)?"nonfinite":x<=p.gate.threshold?"match":x<=p.gate.band?"drift":"diverged";
  var q={status:st,gate:p.gate,all:{nmse:x}};var r=sv("rect",{x:1+i*w,y:1,width:w-1,height:H,fill:colour(q),"class":"tok","data-token":i});
  var t=sv("title",{});t.textContent="token "+i+(toks[i]!==undefined?" (id "+toks[i]+")":"")+": nmse "+fmt(x);r.appendChild(t);s.appendChild(r);
  if(w>=16||i%5===0){var tx=sv("text",{x:1+i*w,y:H+12});tx.textContent=String(i);s.appendChild(tx);}});
 return s;}
function setStep(st){state.step=st;var i=steps.indexOf(st);var r=document.getElementById("step");if(r)r.value=String(i);
 var lab=document.getElementById("step-label");if(lab)lab.textContent=(st===0?"step 0 (prompt)":"step "+st+" (decode)")+(FD&&FD.step===st?" — first divergence here":"");
 drawMap();var o=document.getElementById("overview-sel");if(o)o.setAttribute("x",String(LW+i*ow()));}
function ow(){return Math.max(4,Math.min(16,Math.floor(900/steps.length)));}
function drawOverview(){var h=document.getElementById("overview"),w=ow(),ch=8;var W=LW+steps.length*w+4,H=rows.length*ch+20;var s=sv("svg",{width:W,height:H,id:"overview-svg"});
 var worst={};P.forEach(function(p){var k=p.step+"|"+rowOf(p),q=worst[k];if(!q||RANK[p.status]>RANK[q.status]||(RANK[p.status]===RANK[q.status]&&(nm(p)||0)>(nm(q)||0)))worst[k]=p;});
 rows.forEach(function(r,i){if(i%4===0||i===rows.length-1){var t=sv("text",{x:LW-4,y:i*ch+ch,"text-anchor":"end"});t.textContent=r.label;s.appendChild(t);}
  steps.forEach(function(st,j){var p=worst[st+"|"+r.layer];var rc=sv("rect",{x:LW+j*w,y:i*ch,width:w,height:ch,fill:colour(p)});rc.style.cursor="pointer";rc.addEventListener("click",function(){setStep(st);});s.appendChild(rc);});});
 steps.forEach(function(st,j){if(j%5===0){var t=sv("text",{x:LW+j*w,y:rows.length*ch+14});t.textContent=String(st);s.appendChild(t);}});
 s.appendChild(sv("rect",{id:"overview-sel",x:LW,y:0,width:w,height:rows.length*ch,fill:"none",stroke:"#1565c0","stroke-width":2}));h.appendChild(s);}
function tokensTable(){var a=R.a.generated||[],b=R.b.generated||[];if(!a.length&&!b.length)return;
 var flips=(R.findings||[]).filter(function(f){return f.id==="token-flip";}).map(function(f){return f.step===undefined?0:f.step;});
 var flip=-1;for(var i=0;i<Math.max(a.length,b.length);i++)if(a[i]!==b[i]){flip=i;break;}
 app.appendChild(el("div",{cls:"muted",id:"flip",text:"generated tokens: A "+a.join(", ")+" | B "+b.join(", ")+(R.a.forced||R.b.forced?"  — teacher forced: both sides consumed the same tokens"+(flips.length?"; top-token flips at step "+flips.join(", ")+" (Findings: token-flip)":"; no top-token flip found"):(flip>=0?"  — the generated tokens first differ at decode step "+(flip+1):"  — the same tokens"))}));}

function weights(){var W=R.weights;if(!W&&!R.config&&!R.experiments&&!(R.findings||[]).length)return;
 if((R.findings||[]).length){app.appendChild(el("h2",{text:"Findings ("+R.findings.length+")"}));R.findings.forEach(function(f){app.appendChild(findingBox(f,false));});}
 if(W){app.appendChild(el("h2",{text:"Weight diff"}));
  var diff=W.tensors.filter(function(t){return t.status!=="identical";}),same=W.tensors.length-diff.length;
  app.appendChild(el("div",{cls:"muted",text:W.tensors.length+" tensors: "+diff.length+" not identical, "+same+" identical"}));
  var mk=function(list){var tb=el("table",{id:"weights-table"},[el("tr",{},["tensor","A","B","status","SQNR dB (floor)","cosine","detail"].map(function(h){return el("th",{text:h});}))]);
   list.forEach(function(t){var bad=["identical","close","equivalent","requantized"].indexOf(t.status)<0;var rel=t.relation?t.relation.kind+(t.relation.other?" "+t.relation.other:"")+(t.relation.factor!==undefined?" x"+fmt(t.relation.factor):""):"";
    tb.appendChild(el("tr",{cls:bad?"fail":""},[el("td",{cls:"mono",text:t.key}),el("td",{text:(t.typeA||"-")+" "+(t.dimsA?"["+t.dimsA.join(",")+"]":"")}),el("td",{text:(t.typeB||"-")+" "+(t.dimsB?"["+t.dimsB.join(",")+"]":"")}),
     el("td",{text:t.status}),el("td",{cls:"n",text:t.sqnrDb===null?"":fmt(t.sqnrDb)+" ("+fmt(t.floorDb)+")"}),el("td",{cls:"n",text:t.cosine===null?"":fmt(t.cosine)}),el("td",{text:[rel,t.note||""].filter(Boolean).join("; ")})]));});return tb;};
  if(diff.length)app.appendChild(mk(diff));
  if(same){var det=el("details",{},[el("summary",{text:"identical tensors ("+same+")"})]);det.appendChild(mk(W.tensors.filter(function(t){return t.status==="identical";})));app.appendChild(det);}
  if(W.metadata.length){app.appendChild(el("h3",{text:"Metadata differences"}));var mt=el("table",{},[el("tr",{},[el("th",{text:"field"}),el("th",{text:"A"}),el("th",{text:"B"})])]);W.metadata.forEach(function(m){mt.appendChild(el("tr",{},[el("td",{cls:"mono",text:m.field}),el("td",{text:show(m.a)}),el("td",{text:show(m.b)})]));});app.appendChild(mt);}
  if(W.findings.length){app.appendChild(el("h3",{text:"Weight findings"}));W.findings.forEach(function(f){app.appendChild(findingBox(f,false));});}}
 if(R.config){var C=R.config;app.appendChild(el("h2",{text:"Config diff: "+C.status}));
  app.appendChild(kv([["architecture",C.arch],["compared",C.compared.join(", ")],["missing in A",C.missingA.join(", ")],["missing in B",C.missingB.join(", ")]]));
  if(C.mismatches.length){var ct=el("table",{id:"config-table"},[el("tr",{},[el("th",{text:"field"}),el("th",{text:"A"}),el("th",{text:"B"})])]);C.mismatches.forEach(function(m){ct.appendChild(el("tr",{cls:"fail"},[el("td",{cls:"mono",text:m.field}),el("td",{text:show(m.a)}),el("td",{text:show(m.b)})]));});app.appendChild(ct);}}
 if(R.experiments){var E=R.experiments;app.appendChild(el("h2",{text:"Experiments"}));
  app.appendChild(kv([["reruns",E.reruns+" in "+E.ms+" ms (rerunning side "+E.receiver+" with parts of the other)"],["candidates",E.candidates],["minimal explaining set",E.minimal?E.minimal.join(", ")||"(empty)":"none found"],
   ["residual",E.residual?"with everything transplanted, first divergence at "+E.residual.key+" step "+E.residual.step+" (nmse "+fmt(E.residual.nmse)+")":"none: everything transplanted, every point matches"],["note",E.note]]));}
 if(R.timings){app.appendChild(el("div",{cls:"muted",text:"timings: "+Object.keys(R.timings).map(function(k){return k+" "+fmt(R.timings[k])+" ms";}).join(", ")}));}}

function parity(){var run=D.run;
 app.appendChild(el("h1",{text:"rosetta parity: top-k logits against llama.cpp"}));
 app.appendChild(el("div",{},[el("span",{id:"verdict",cls:"verdict v-"+(run.passed?"MATCH":"DIVERGED"),text:run.passed?"PASS":"FAIL"}),el("span",{cls:"muted",text:run.results.length+" prompt runs, "+run.results.filter(function(r){return !r.passed;}).length+" failing"+(run.gate?"; gated modes: "+run.gate.join(", "):"")})]));
 app.appendChild(kv([["settings",Object.keys(run.settings||{}).map(function(k){return k+"="+show(run.settings[k]);}).join(", ")],["manifest",run.manifest?run.manifest.path+" ("+run.manifest.sha256.slice(0,12)+")":""],
  ["ISA",(run.isa||[]).map(function(i){return i.requested+": "+i.status+(i.ran?" ("+i.ran+")":"");}).join(", ")],["skipped",(run.skipped||[]).map(function(s){return s.case+": "+s.reason;}).join("; ")]]));
 app.appendChild(el("h2",{text:"Per prompt (failing first)"}));
 var res=run.results.slice().sort(function(a,b){return (a.passed?1:0)-(b.passed?1:0)||b.failures-a.failures||b.maxTopDelta-a.maxTopDelta;});
 var t=el("table",{id:"parity-table"},[el("tr",{},["","model","quant","numerics","isa","prompt","top-1 agree","near ties","failing positions","max top-k Δ (band)","KL mean / max (band)","max full Δ"].map(function(h){return el("th",{text:h});}))]);
 res.forEach(function(r,i){var gated=!run.gate||run.gate.indexOf(r.numerics)>=0;
  var tr=el("tr",{cls:r.passed?"":"fail","data-prompt":r.promptId},[el("td",{text:r.passed?"✓":"✗"}),el("td",{text:r.model}),el("td",{text:r.quant}),el("td",{text:r.numerics+(gated?"":" (not gated)")}),el("td",{text:r.isa}),el("td",{text:r.promptIdx+" "+r.promptId+" ("+r.bucket+")"}),
   el("td",{cls:"n",text:r.top1Match+"/"+r.positions}),el("td",{cls:"n",text:String(r.nearTies)}),el("td",{cls:"n",text:String(r.failures)}),el("td",{cls:"n",text:fmt(r.maxTopDelta)+" ("+fmt(r.band.topDelta)+")"}),
   el("td",{cls:"n",text:fmt(r.kl.mean)+" / "+fmt(r.kl.max)+" ("+fmt(r.band.klMean)+" / "+fmt(r.band.klMax)+")"}),el("td",{cls:"n",text:fmt(r.maxFullDelta)})]);t.appendChild(tr);
  if(r.promptErrors.length||r.details.length){var cell=el("td",{colspan:"12"});var det=el("details",{open:r.passed?null:""},[el("summary",{text:r.details.length+" failing or tied positions"+(r.promptErrors.length?"; "+r.promptErrors.join("; "):"")})]);
   if(!r.passed)det.setAttribute("open","");
   var dt=el("table",{},[el("tr",{},["position","ref token","top-1","top-k overlap","top-k Δ","full Δ","KL","rosetta top-k","llama.cpp top-k","reasons"].map(function(h){return el("th",{text:h});}))]);
   r.details.slice().sort(function(a,b){return (a.reasons.length?0:1)-(b.reasons.length?0:1)||a.tokenIdx-b.tokenIdx;}).forEach(function(p){var ov=p.rosetta.ids.filter(function(x){return p.llamacpp.ids.indexOf(x)>=0;}).length;
    dt.appendChild(el("tr",{cls:p.reasons.length?"fail":"tie"},[el("td",{cls:"n",text:String(p.tokenIdx)}),el("td",{cls:"n",text:String(p.refToken)}),el("td",{text:p.top1}),el("td",{cls:"n",text:ov+"/"+p.llamacpp.ids.length+(p.setTie?" (tie)":"")}),
     el("td",{cls:"n",text:fmt(p.topDelta)}),el("td",{cls:"n",text:fmt(p.fullDelta)}),el("td",{cls:"n",text:fmt(p.kl)}),el("td",{cls:"mono",text:p.rosetta.ids.join(",")}),el("td",{cls:"mono",text:p.llamacpp.ids.join(",")}),el("td",{text:p.reasons.join("; ")})]));});
   det.appendChild(dt);cell.appendChild(det);t.appendChild(el("tr",{},[cell]));}});
 app.appendChild(t);
 app.appendChild(el("div",{cls:"muted",text:"Positions that passed exactly are not kept in parity results (only failing and tied ones are), so the per-position tables list those."}));
 document.body.setAttribute("data-ready","1");}

header();heatmap();weights();
document.body.setAttribute("data-ready","1");
})();
`;
