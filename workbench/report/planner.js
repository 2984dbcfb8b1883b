// The planner page's script, inlined by workbench/report/planner.py (allowed by the page's
// Content-Security-Policy through its sha256 hash). It values any allocation with the equations
// of workbench/planning/response.py, reach.py and audience.py, per posterior draw, from the data
// block #planner-data; workbench.planning.payload.outcomes_from_payload is the same code in
// numpy. Every data string reaches the page through textContent, never as markup.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("planner-data").textContent);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const HAZARD_EPS = DATA.hazard_eps;
  const M = DATA.model;
  const S = M.draws, C = DATA.channels.length, J = M.n_total, W = M.n_weeks;
  const current = DATA.current;

  function decode(b64, Type) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  const f = {};
  for (const name of Object.keys(M.f64)) f[name] = decode(M.f64[name], Float64Array);
  const codes = decode(M.codes, M.code_bytes === 1 ? Uint8Array : Uint16Array);
  const first = decode(M.first_channel, Int16Array);
  const nJourneys = f.n_journeys;
  const P = nJourneys.length;
  const pairs = M.pairs, Q = pairs.length;

  // --- draw-wise constants ------------------------------------------------------------------
  const base = M.code_base, nBins = M.ages_days.length;
  let X = 1;
  for (let b = 0; b < nBins; b++) X *= base;
  const codeExp = new Float64Array(S * C * X); // exposure of every code (draw, channel, code)
  const em1Theta = new Float64Array(S * C); // expm1(-theta)
  for (let s = 0; s < S; s++) {
    for (let c = 0; c < C; c++) {
      const sc = s * C + c;
      // each recency bin's weight: the mean of exp(-decay age) over the bin (payload.py)
      const w = M.bin_lower.map((lo, b) => {
        const x = f.decay[sc] * M.bin_width[b];
        return Math.exp(-f.decay[sc] * lo) * (x > 0 ? -Math.expm1(-x) / x : 1);
      });
      for (let x = 0; x < X; x++) {
        let e = 0;
        for (let b = 0; b < nBins; b++) e += w[b] * f.code_counts[(c * X + x) * nBins + b];
        codeExp[sc * X + x] = e;
      }
      em1Theta[sc] = Math.expm1(-f.saturation[sc]);
    }
  }
  // Newly reached people with j touches of c: P and the channel's credit (response.py).
  const p0 = new Float64Array(S), pNew = new Float64Array(S * C * J), creditNew = new Float64Array(S * C * J);
  for (let s = 0; s < S; s++) {
    const h0 = f.baseline[s];
    p0[s] = -Math.expm1(-h0);
    for (let c = 0; c < C; c++) {
      const sc = s * C + c;
      for (const [j, x, weight] of M.new_mix[c]) {
        const b = (Math.expm1(-f.saturation[sc] * codeExp[sc * X + x]) / em1Theta[sc]) * f.beta[sc] + f.opening[sc];
        const p = -Math.expm1(-(h0 + b));
        pNew[sc * J + j] += weight * p;
        creditNew[sc * J + j] += weight * p * b / (h0 + b);
      }
    }
  }
  // Touch curve denominators: current touches summed over weeks (reach.touch_ratio).
  const touchesNow = new Float64Array(S * C);
  for (let s = 0; s < S; s++) for (let c = 0; c < C; c++) {
    const k = f.reach_k[s * C + c];
    let den = 0;
    for (let w = 0; w < W; w++) {
      const sp = f.weekly_spend[w * C + c], x = sp / k;
      den += (!isFinite(k) || x === 0) ? sp : -Math.expm1(-x);
    }
    touchesNow[s * C + c] = den;
  }
  // Patterns as sparse entries (channel, code, opened): absent channels add nothing to H.
  const start = new Int32Array(P + 1), entC = [], entCode = [], entFirst = [];
  const pairStart = new Int32Array(P + 1), pairQ = [], pairA = [], pairB = [];
  for (let p = 0; p < P; p++) {
    start[p] = entC.length;
    pairStart[p] = pairQ.length;
    const where = new Int32Array(C).fill(-1);
    for (let c = 0; c < C; c++) {
      const code = codes[p * C + c];
      if (code > 0 || first[p] === c) {
        where[c] = entC.length;
        entC.push(c); entCode.push(code); entFirst.push(first[p] === c ? 1 : 0);
      }
    }
    for (let q = 0; q < Q; q++) {
      const a = where[pairs[q][0]], b = where[pairs[q][1]];
      if (a >= 0 && b >= 0 && codes[p * C + pairs[q][0]] > 0 && codes[p * C + pairs[q][1]] > 0) {
        pairQ.push(q); pairA.push(a); pairB.push(b);
      }
    }
  }
  start[P] = entC.length;
  pairStart[P] = pairQ.length;
  const E = entC.length;
  const eC = Int32Array.from(entC), eCode = Int32Array.from(entCode), eFirst = Int8Array.from(entFirst);
  const pQ = Int32Array.from(pairQ), pA = Int32Array.from(pairA), pB = Int32Array.from(pairB);
  const eIdx = new Int32Array(E); // each entry's cell of the per-draw table effTab
  for (let e = 0; e < E; e++) eIdx[e] = (eC[e] * X + eCode[e]) * 2 + eFirst[e];

  // Patterns each channel appears in: when one channel's spend moves, only these change.
  const withChannel = [];
  for (let c = 0; c < C; c++) withChannel.push([]);
  for (let p = 0; p < P; p++) for (let e = start[p]; e < start[p + 1]; e++) withChannel[eC[e]].push(p);
  const patternsWith = withChannel.map((list) => Int32Array.from(list));

  // --- one allocation, every draw -----------------------------------------------------------
  // The state of the allocation last evaluated, per draw: each channel's reach and frequency
  // (lost, scale, fresh), its code responses sCode and their contributions to H, effTab
  // (-log E[exp(-part)] for every code, without / with the opening term); and the totals over
  // patterns (conversions, credit per channel) and over the newly reached.
  const baseline = f.baseline, beta = f.beta, opening = f.opening, synergy = f.synergy;
  const custValue = f.customer_value;
  const lost = new Float64Array(S * C), scale = new Float64Array(S * C), fresh = new Float64Array(S * C * J);
  const sCode = new Float64Array(S * C * X), effTab = new Float64Array(S * C * X * 2);
  // exp(-effTab): a pattern's P(no conversion) is exp(-baseline) times these, so the pattern
  // loop multiplies table entries instead of calling exp once per pattern and draw
  const expTab = new Float64Array(S * C * X * 2), expBase = baseline.map((h) => Math.exp(-h));
  const convPat = new Float64Array(S), credPat = new Float64Array(S * C);
  const gainedNew = new Float64Array(S * C), credNew = new Float64Array(S * C);
  const part = new Float64Array(C + 1);
  const state = { mult: null, increments: 0 };
  // Incremental updates between two full evaluations (the totals carry rounding only).
  const FULL_EVERY = 500;

  function reachFrequency(r, m, k, size, sc) {
    // audience.reach_frequency for one (draw, channel); writes lost, scale, fresh.
    for (let j = 0; j < J; j++) fresh[sc * J + j] = 0;
    if (!(isFinite(m) && isFinite(k))) { lost[sc] = 0; scale[sc] = r; return; }
    const logP0 = -k * Math.log1p(m / k), q = -Math.expm1(logP0);
    const qr = -Math.expm1(-k * Math.log1p(Math.max(r, 0) * m / k));
    if (r >= 1) {
      lost[sc] = 0;
      scale[sc] = 1 + (r - 1) * -Math.expm1(-(k + 1) * Math.log1p(m / k));
    } else {
      lost[sc] = 1 - qr / q;
      scale[sc] = qr > 0 ? r * q / qr : 1;
    }
    const mu = Math.max(r - 1, 0) * k * m / (k + m);
    if (!(mu > 0)) return;
    // NB(j; shape k, mean mu) by its ratio recursion; the last count lumps the tail.
    const step = Math.log(mu) - Math.log(k + mu);
    let logPmf = -k * Math.log1p(mu / k), below = 0;
    const pAny = -Math.expm1(-k * Math.log1p(mu / k)), reachable = size * Math.exp(logP0);
    for (let j = 1; j <= J; j++) {
      logPmf += Math.log((j - 1 + k) / j) + step;
      let pmf = Math.exp(logPmf);
      if (!isFinite(pmf)) pmf = 0;
      if (j === J) pmf = Math.max(pAny - below, 0);
      below += pmf;
      fresh[sc * J + j - 1] = reachable * pmf;
    }
  }

  function channelState(s, c, m) {
    // touches (reach.touch_ratio) -> reach and frequency -> code responses of channel c
    const sc = s * C + c, k = f.reach_k[sc];
    let ratio = m;
    if (isFinite(k)) {
      let num = 0;
      for (let w = 0; w < W; w++) {
        const x = f.weekly_spend[w * C + c] / k;
        num += x === 0 ? 0 : -Math.expm1(-m * x);
      }
      if (touchesNow[sc] > 0) ratio = num / touchesNow[sc];
    }
    reachFrequency(ratio, f.audience_m[sc], f.audience_k[sc], f.audience_size[sc], sc);
    const theta = f.saturation[sc], b = beta[sc], open = scale[sc] > 0 ? opening[sc] : 0;
    const ls = lost[sc], keep = 1 - ls, sx = scale[sc], den = em1Theta[sc];
    for (let x = 0; x < X; x++) {
      const sv = Math.expm1(-theta * codeExp[sc * X + x] * sx) / den;
      sCode[sc * X + x] = sv;
      const pt0 = sv * b, pt1 = pt0 + open, i = (sc * X + x) * 2;
      const g0 = ls > 0 ? ls + keep * Math.exp(-pt0) : Math.exp(-pt0);
      effTab[i] = ls > 0 ? -Math.log(g0) : pt0;
      expTab[i] = g0;
      if (open === 0) {
        effTab[i + 1] = effTab[i];
        expTab[i + 1] = g0;
      } else {
        const g1 = ls > 0 ? ls + keep * Math.exp(-pt1) : Math.exp(-pt1);
        effTab[i + 1] = ls > 0 ? -Math.log(g1) : pt1;
        expTab[i + 1] = g1;
      }
    }
    // the newly reached: conversions gained over the baseline and the channel's credit
    let gained = 0, credit = 0;
    for (let j = 0; j < J; j++) {
      const n = fresh[sc * J + j];
      if (n === 0) continue;
      gained += n * (pNew[sc * J + j] - p0[s]);
      credit += n * creditNew[sc * J + j];
    }
    gainedNew[sc] = gained;
    credNew[sc] = credit;
  }

  function accumulate(s, p, sign) {
    // pattern p's conversions and hazard-share credit in draw s, added (sign 1) or removed (-1)
    const e0 = start[p], e1 = start[p + 1], off = s * C * X * 2, sOff = s * C;
    let h = baseline[s], cp;
    if (pairStart[p] === pairStart[p + 1]) {
      let g = expBase[s];
      for (let e = e0; e < e1; e++) {
        const i = off + eIdx[e], v = effTab[i];
        part[e - e0] = v; h += v; g *= expTab[i];
      }
      cp = (1 - g) * nJourneys[p];
    } else {
      // Synergy: each term is split evenly between its pair before the channel's loss.
      for (let e = e0; e < e1; e++) {
        const sc = sOff + eC[e];
        part[e - e0] = sCode[sc * X + eCode[e]] * beta[sc] + (eFirst[e] && scale[sc] > 0 ? opening[sc] : 0);
      }
      for (let i = pairStart[p]; i < pairStart[p + 1]; i++) {
        const a = pA[i], b = pB[i];
        const half = 0.5 * synergy[s * Q + pQ[i]] * sCode[(sOff + eC[a]) * X + eCode[a]] * sCode[(sOff + eC[b]) * X + eCode[b]];
        part[a - e0] += half; part[b - e0] += half;
      }
      for (let e = e0; e < e1; e++) {
        const ls = lost[sOff + eC[e]];
        if (ls > 0) part[e - e0] = -Math.log(ls + (1 - ls) * Math.exp(-part[e - e0]));
        h += part[e - e0];
      }
      cp = -Math.expm1(-h) * nJourneys[p];
    }
    convPat[s] += sign * cp;
    if (h > HAZARD_EPS) {
      const share = sign * cp / h;
      for (let e = e0; e < e1; e++) credPat[sOff + eC[e]] += part[e - e0] * share;
    }
  }

  function evaluate(mult) {
    // Bring the state to ``mult``: when one channel moved, only the patterns it is in are
    // re-evaluated (removed with the old state, added with the new); otherwise all of them.
    let moved = -1, changes = 0;
    if (state.mult) for (let c = 0; c < C; c++) if (mult[c] !== state.mult[c]) { moved = c; changes++; }
    if (state.mult && changes === 0) return;
    // (removing and re-adding costs two passes over the channel's patterns: worth it only when
    // the channel is in fewer than half of them)
    if (state.mult && changes === 1 && state.increments < FULL_EVERY && 2 * patternsWith[moved].length < P) {
      const list = patternsWith[moved];
      for (let s = 0; s < S; s++) {
        for (let i = 0; i < list.length; i++) accumulate(s, list[i], -1);
        channelState(s, moved, mult[moved]);
        for (let i = 0; i < list.length; i++) accumulate(s, list[i], 1);
      }
      state.increments++;
    } else {
      convPat.fill(0); credPat.fill(0);
      for (let s = 0; s < S; s++) {
        for (let c = 0; c < C; c++) channelState(s, c, mult[c]);
        for (let p = 0; p < P; p++) accumulate(s, p, 1);
      }
      state.increments = 0;
    }
    state.mult = Float64Array.from(mult);
  }

  function outcomes(spend) {
    const mult = new Float64Array(C);
    for (let c = 0; c < C; c++) mult[c] = current[c] > 0 ? spend[c] / current[c] : 1;
    evaluate(mult);
    const conversions = new Float64Array(S), value = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      let total = convPat[s] + M.organic_conversions, val = 0, credit = 0;
      for (let c = 0; c < C; c++) {
        const sc = s * C + c, cr = credPat[sc] + credNew[sc];
        total += gainedNew[sc];
        val += cr * custValue[sc];
        credit += cr;
      }
      conversions[s] = total;
      value[s] = val + (total - credit) * M.clv_baseline;
    }
    return { conversions, value };
  }

  // --- summaries and formats ----------------------------------------------------------------
  function quantile(sorted, q) {
    // numpy's default (linear interpolation between order statistics)
    const pos = q * (sorted.length - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  }
  function summary(x) {
    const sorted = Float64Array.from(x).sort();
    let sum = 0;
    for (const v of x) sum += v;
    return { mean: sum / x.length, lo: quantile(sorted, DATA.interval[0]), hi: quantile(sorted, DATA.interval[1]) };
  }
  function num(x, digits) {
    if (!isFinite(x)) return "\u2013";
    let d = digits || 0;
    if (Math.abs(x) < 1e-9) x = 0;
    if (!d && Math.abs(x) < 10 && x !== Math.round(x)) d = Math.abs(x) >= 1 ? 1 : 2;
    return x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function signed(x, digits) {
    const t = num(x, digits);
    return t.startsWith("-") || t === "\u2013" ? t : "+" + t;
  }
  function chance(p) {
    // never 100% or 0% unless every draw agrees (as the report's markup.chance)
    if (!isFinite(p)) return "\u2013";
    if (p > 0 && p < 0.01) return "<1%";
    if (p > 0.99 && p < 1) return ">99%";
    return (100 * p).toFixed(0) + "%";
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  // --- the page -----------------------------------------------------------------------------
  const base0 = outcomes(current);
  const spend = Float64Array.from(current);
  const rows = [];
  const budgetInput = document.getElementById("budget");
  const totalNow = current.reduce((a, b) => a + b, 0);
  budgetInput.value = String(Math.round(totalNow * 100) / 100);

  function setOut(id, x, text) {
    const node = document.getElementById(id);
    node.textContent = text;
    node.dataset.value = String(x);
  }

  function update() {
    const t0 = performance.now();
    const out = outcomes(spend);
    const dc = out.conversions.map((v, s) => v - base0.conversions[s]);
    const dv = out.value.map((v, s) => v - base0.value[s]);
    const results = {
      conv: summary(out.conversions), value: summary(out.value),
      dconv: summary(dc), dvalue: summary(dv),
      conv0: summary(base0.conversions), value0: summary(base0.value),
    };
    for (const key of Object.keys(results)) {
      const r = results[key], fmt = key.startsWith("d") ? signed : num, digits = key.includes("conv") ? 1 : 0;
      setOut(key + "-mean", r.mean, fmt(r.mean, digits));
      setOut(key + "-lo", r.lo, fmt(r.lo, digits));
      setOut(key + "-hi", r.hi, fmt(r.hi, digits));
    }
    // a change at rounding noise is a tie, as in workbench plan (plan.TIE_RTOL)
    const tie = DATA.tie_rtol;
    const beats = dv.filter((v, s) => v > tie * Math.abs(base0.value[s])).length / S;
    const more = dc.filter((v, s) => v > tie * Math.abs(base0.conversions[s])).length / S;
    const same = spend.every((v, c) => v === current[c]);
    setOut("p-beats", beats, same ? "\u2013 (this is the current plan)" : chance(beats));
    setOut("p-more", more, same ? "\u2013" : chance(more));
    const total = spend.reduce((a, b) => a + b, 0), budget = parseFloat(budgetInput.value);
    setOut("planned-total", total, num(total, 0));
    const left = budget - total;
    setOut("remaining", left, isFinite(left) ? (left >= 0 ? num(left, 0) + " left to allocate" : num(-left, 0) + " over budget") : "\u2013");
    document.getElementById("remaining").classList.toggle("warn", left < -0.005);
    for (let c = 0; c < C; c++) rows[c].refresh();
    fillPrint(results, beats, more);
    document.body.dataset.updateMs = String(performance.now() - t0);
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  function drawCurve(c, host) {
    const cv = DATA.curves[c];
    const width = 320, height = 150, pad = { l: 56, r: 10, t: 10, b: 30 };
    const fig = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "curve" });
    fig.appendChild(svg("title")).textContent = `Value gained against spend on ${DATA.channels[c]}, other channels at current spend`;
    const xs = cv.multiplier.map((m) => m * current[c]);
    const xMax = Math.max(...xs, 1e-9);
    const ys = [...cv.lo, ...cv.hi, 0];
    let yMin = Math.min(...ys), yMax = Math.max(...ys);
    if (yMax - yMin < 1e-9) { yMin -= 1; yMax += 1; }
    const X0 = (x) => pad.l + (x / xMax) * (width - pad.l - pad.r);
    const Y0 = (y) => pad.t + (1 - (y - yMin) / (yMax - yMin)) * (height - pad.t - pad.b);
    const band = xs.map((x, i) => `${X0(x)},${Y0(cv.hi[i])}`).concat(xs.map((x, i) => `${X0(x)},${Y0(cv.lo[i])}`).reverse());
    fig.appendChild(svg("polygon", { points: band.join(" "), class: "band" }));
    fig.appendChild(svg("line", { x1: pad.l, x2: width - pad.r, y1: Y0(0), y2: Y0(0), class: "zero" }));
    fig.appendChild(svg("line", { x1: X0(current[c]), x2: X0(current[c]), y1: pad.t, y2: height - pad.b, class: "now" }));
    fig.appendChild(svg("polyline", { points: xs.map((x, i) => `${X0(x)},${Y0(cv.mean[i])}`).join(" "), class: "mean" }));
    const labels = [[pad.l - 4, Y0(yMax), num(yMax, 0), "end"], [pad.l - 4, Y0(yMin) + 4, num(yMin, 0), "end"],
      [X0(0), height - 12, "0", "start"], [X0(current[c]), height - 12, "now", "middle"], [X0(xMax), height - 12, num(xMax, 0), "end"]];
    for (const [x, y, text, anchor] of labels) {
      const t = svg("text", { x, y, "text-anchor": anchor, class: "tick" });
      t.textContent = text;
      fig.appendChild(t);
    }
    const marker = svg("circle", { r: 4.5, class: "marker" });
    fig.appendChild(marker);
    host.appendChild(fig);
    return function place(x) {
      const m = current[c] > 0 ? x / current[c] : 1;
      const g = cv.multiplier;
      let i = 0;
      while (i < g.length - 2 && m > g[i + 1]) i++;
      const t = (m - g[i]) / (g[i + 1] - g[i]);
      const y = cv.mean[i] + t * (cv.mean[i + 1] - cv.mean[i]);
      marker.setAttribute("cx", String(X0(Math.min(Math.max(x, 0), xMax))));
      marker.setAttribute("cy", String(Y0(Math.min(Math.max(y, yMin), yMax))));
    };
  }

  function buildChannel(c) {
    const name = DATA.channels[c];
    const card = el("fieldset", { class: "channel" });
    card.appendChild(el("legend", {}, name));
    const fixed = !(current[c] > 0);
    card.appendChild(el("p", { class: "now-spend" }, `Current spend ${num(current[c], 0)}`));
    const grid = el("div", { class: "inputs" });
    const id = `spend-${c}`;
    const lab = el("label", { for: id }, "Planned spend ");
    const input = el("input", { id, type: "number", min: "0", step: "any", inputmode: "decimal", "data-channel": name });
    const pctId = `change-${c}`;
    const pctLab = el("label", { for: pctId }, "Change % ");
    const pctIn = el("input", { id: pctId, type: "number", min: "-100", step: "any", "data-channel": name });
    const slider = el("input", { id: `slider-${c}`, type: "range", min: "0", max: String(3 * current[c]), step: String(current[c] / 100 || 1) });
    slider.setAttribute("aria-label", `Planned spend for ${name} (slider)`);
    input.setAttribute("aria-label", `Planned spend for ${name}`);
    pctIn.setAttribute("aria-label", `Change in spend for ${name}, percent`);
    lab.appendChild(input); pctLab.appendChild(pctIn);
    grid.append(lab, pctLab, slider);
    card.appendChild(grid);
    if (fixed) {
      for (const node of [input, pctIn, slider]) node.disabled = true;
      card.appendChild(el("p", { class: "note" }, "No current spend: its response to spend is unknown, so it stays at zero."));
    }
    const place = fixed ? () => {} : drawCurve(c, card);
    function set(x, from) {
      if (!(x >= 0)) return;
      spend[c] = x;
      if (from !== input) input.value = String(Math.round(x * 100) / 100);
      if (from !== pctIn) pctIn.value = current[c] > 0 ? String(Math.round((x / current[c] - 1) * 1000) / 10) : "0";
      if (from !== slider) slider.value = String(x);
      update();
    }
    input.addEventListener("input", () => set(parseFloat(input.value), input));
    pctIn.addEventListener("input", () => set(current[c] * (1 + parseFloat(pctIn.value) / 100), pctIn));
    slider.addEventListener("input", () => set(parseFloat(slider.value), slider));
    document.getElementById("channels").appendChild(card);
    return { set, refresh: () => place(spend[c]), sync: () => { input.value = String(Math.round(spend[c] * 100) / 100); pctIn.value = current[c] > 0 ? String(Math.round((spend[c] / current[c] - 1) * 1000) / 10) : "0"; slider.value = String(spend[c]); } };
  }

  function fillPrint(results, beats, more) {
    const body = document.getElementById("print-allocation");
    body.replaceChildren();
    for (let c = 0; c < C; c++) {
      const tr = el("tr");
      tr.append(el("td", {}, DATA.channels[c]), el("td", { class: "num" }, num(current[c], 0)), el("td", { class: "num" }, num(spend[c], 0)),
        el("td", { class: "num" }, current[c] > 0 ? signed(100 * (spend[c] / current[c] - 1), 1) + "%" : "\u2013"));
      body.appendChild(tr);
    }
    const now = current.reduce((a, b) => a + b, 0), planned = spend.reduce((a, b) => a + b, 0);
    const total = el("tr", { class: "total" });
    total.append(el("th", { scope: "row" }, "Total"), el("td", { class: "num" }, num(now, 0)), el("td", { class: "num" }, num(planned, 0)),
      el("td", { class: "num" }, now > 0 ? signed(100 * (planned / now - 1), 1) + "%" : "\u2013"));
    body.appendChild(total);
    document.getElementById("print-name").textContent = scenarioName();
  }

  function scenarioName() {
    const raw = (document.getElementById("scenario-name").value || "").trim();
    return raw && !DATA.reserved_names.includes(raw) ? raw : "planner";
  }

  function scenarioYaml() {
    // JSON strings are valid YAML double-quoted scalars: any channel name survives the trip.
    const lines = ["# Budget scenario from the planner page; run: workbench plan --scenarios FILE ...", "scenarios:",
      `  - name: ${JSON.stringify(scenarioName())}`,
      `    description: ${JSON.stringify("from the planner page: planned total spend per channel over the data window")}`,
      "    spend:"];
    for (let c = 0; c < C; c++) lines.push(`      ${JSON.stringify(DATA.channels[c])}: ${Number(spend[c])}`);
    return lines.join("\n") + "\n";
  }

  // presets: current spend, each scenario of plan.nc, the optimised allocation
  const presetHost = document.getElementById("presets");
  DATA.presets.forEach((preset) => {
    const button = el("button", { type: "button", title: preset.description || "" }, preset.name);
    button.addEventListener("click", () => {
      for (let c = 0; c < C; c++) spend[c] = current[c] > 0 ? preset.spend[c] : 0;
      rows.forEach((r) => r.sync());
      update();
    });
    presetHost.appendChild(button);
  });

  for (let c = 0; c < C; c++) rows.push(buildChannel(c));
  rows.forEach((r) => r.sync());
  budgetInput.addEventListener("input", update);
  document.getElementById("scenario-name").addEventListener("input", update);
  document.getElementById("download").addEventListener("click", () => {
    const blob = new Blob([scenarioYaml()], { type: "application/yaml" });
    const a = el("a", { href: URL.createObjectURL(blob), download: `${scenarioName().replace(/[^A-Za-z0-9._-]+/g, "_")}.yaml` });
    document.body.appendChild(a);
    a.click();
    a.remove();
  });
  document.getElementById("print").addEventListener("click", () => window.print());
  update();
  window.planner = { outcomes, update, spend, channels: DATA.channels, scenarioYaml, chance };
})();
