/* apl-engine interactive map (engine.maps.map_html): builds every layer from the JSON in
 * #apl-map-data. Every string of the data (commune, zone and installation names, titles) is
 * put into the page as text (textContent), never as HTML: a name made of markup (an img tag
 * with an onerror handler) is shown as written and cannot run. Leaflet parses as HTML
 * only the layer names and the attributions, which are this file's and engine.maps' constants
 * (and are escaped anyway).
 */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("apl-map-data").textContent);

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function esc(text) {
    var e = document.createElement("span");
    e.textContent = String(text);
    return e.innerHTML;
  }

  // A tooltip: {h: header, r: [[label, value], ...]}, built as DOM nodes with text only.
  function tip(t) {
    var box = el("div", "apl-tip");
    box.appendChild(el("div", "apl-tip-h", t.h));
    if (t.r && t.r.length) {
      var table = el("table");
      t.r.forEach(function (row) {
        var tr = el("tr");
        if (row[0]) {
          tr.appendChild(el("th", null, row[0]));
          tr.appendChild(el("td", null, row[1]));
        } else {
          var td = el("td", null, row[1]);
          td.colSpan = 2;
          tr.appendChild(td);
        }
        table.appendChild(tr);
      });
      box.appendChild(table);
    }
    return box;
  }

  function bindTip(layer, t, sticky) {
    layer.bindTooltip(function () { return tip(t); },
                      {sticky: !!sticky, direction: "top", className: "apl-tooltip"});
  }

  var map = L.map("apl-map", {zoomSnap: 0.25});
  var container = map.getContainer();
  map.attributionControl.addAttribution(D.attribution);
  L.control.scale({imperial: false}).addTo(map);
  // Panes fix the drawing order whatever the order layers are switched on: classes, then
  // isochrones (never in the way of the mouse), zone outlines, practitioners.
  [["aplCommunesPane", 410], ["aplIsochronesPane", 420], ["aplZonesPane", 430],
   ["aplPointsPane", 440]].forEach(function (p) { map.createPane(p[0]).style.zIndex = p[1]; });
  map.getPane("aplIsochronesPane").style.pointerEvents = "none";

  // ---------------------------------------------------------------- choropleth themes
  D.themes.forEach(function (theme, k) {
    var layer = L.geoJSON(D.communes, {
      pane: "aplCommunesPane",
      style: function (f) {
        return {fillColor: theme.rows[f.properties.k[k]].color, color: "#ffffff", weight: 0.6,
                opacity: 1, fillOpacity: 0.85};
      },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 6, pane: "aplCommunesPane"});
      },
      onEachFeature: function (f, lyr) {
        bindTip(lyr, f.properties.t, true);
        lyr.on("mouseover", function () {
          lyr.setStyle({weight: 2.5, color: "#222222"});
          if (lyr.bringToFront) lyr.bringToFront();
        });
        lyr.on("mouseout", function () { layer.resetStyle(lyr); });
      }
    });
    theme.layer = layer;
  });
  var current = D.themes[0];
  current.layer.addTo(map);
  var themeLayers = {};
  D.themes.forEach(function (theme) { themeLayers[esc(theme.name)] = theme.layer; });
  var themeControl = L.control.layers(themeLayers, null, {collapsed: false}).addTo(map);
  heading(themeControl, "Carte affichée");

  // ---------------------------------------------------------------- basemap and overlays
  var bases = {}, overlays = {}, symbols = [];
  var tiles = null;
  if (D.tiles) {
    tiles = L.tileLayer(D.tiles.url, {
      maxZoom: 19, attribution: D.tiles.attribution,
      referrerPolicy: "strict-origin-when-cross-origin"
    });
    // Offline the tiles fail (no dialog, nothing drawn) and the classes stay opaque; once a
    // tile has loaded, the classes become translucent so that roads and names show.
    tiles.on("tileload", function () { container.classList.add("apl-basemap-on"); });
    tiles.on("remove", function () { container.classList.remove("apl-basemap-on"); });
    tiles.addTo(map);
    bases[esc(D.tiles.name)] = tiles;
    bases["Sans fond de carte"] = L.layerGroup();
  }

  function overlay(name, layer, show, symbol) {
    overlays[esc(name)] = layer;
    if (show) layer.addTo(map);
    if (symbol) symbols.push({layer: layer, make: symbol});
  }

  if (D.zones) {
    var zones = L.geoJSON(D.zones, {
      pane: "aplZonesPane",
      style: function () { return {color: "#1a1a1a", weight: 2.2, opacity: 0.9, fill: false}; },
      onEachFeature: function (f, lyr) { bindTip(lyr, f.properties.t, true); }
    });
    overlay("Territoires", zones, true, function () {
      return row(el("span", "apl-line"), "Territoire (contour)");
    });
  }

  if (D.practitioners.length) {
    var gps = L.layerGroup();
    D.practitioners.forEach(function (p) {
      var c = L.circleMarker([p.lat, p.lon], {
        pane: "aplPointsPane", radius: 2.4 + 1.5 * Math.sqrt(p.n), color: "#ffffff", weight: 1,
        fillColor: "#1f4e79", fillOpacity: 0.9
      });
      bindTip(c, p.t, false);
      gps.addLayer(c);
    });
    overlay(D.practitioners_name, gps, true, function () {
      return row(el("span", "apl-dot"), D.practitioners_legend);
    });
  }

  function badge(kind, text) { return el("span", "apl-badge apl-badge-" + kind, text); }

  [["planned", "Installations prévues", "Installation prévue (scénario)"],
   ["proposed", "Installations proposées", "Installation proposée (optimiseur)"]]
    .forEach(function (spec) {
      var items = D.installations[spec[0]];
      if (!items.length) return;
      var group = L.layerGroup();
      items.forEach(function (p) {
        var marker = L.marker([p.lat, p.lon], {
          icon: L.divIcon({html: badge(spec[0], p.badge), className: "", iconSize: [26, 20]}),
          keyboard: false
        });
        bindTip(marker, p.t, false);
        group.addLayer(marker);
      });
      overlay(spec[1], group, true, function () { return row(badge(spec[0], "+1"), spec[2]); });
    });

  if (D.isochrones.length) {
    var iso = L.layerGroup();
    D.isochrones.forEach(function (band) {
      iso.addLayer(L.geoJSON(band.geojson, {
        pane: "aplIsochronesPane", interactive: false,
        // Fill only: the bands follow the roads (ribbons a few hundred metres wide), and
        // outlines of ribbons make a dark tangle at the scale of a département.
        style: function () {
          return {stroke: false, fillColor: band.color, fillOpacity: 0.3};
        }
      }));
    });
    overlay("Isochrones", iso, D.show_isochrones, function () {
      var swatch = el("span", "apl-swatch");
      swatch.style.background = D.isochrones[D.isochrones.length - 1].color;
      swatch.style.opacity = 0.6;
      return row(swatch, D.isochrones_legend);
    });
  }

  var refs = L.control.layers(bases, overlays, {collapsed: false}).addTo(map);
  heading(refs, "Fond et repères");

  function heading(control, text) {
    var list = control.getContainer().querySelector(".leaflet-control-layers-list");
    list.insertBefore(el("h3", null, text), list.firstChild);
  }

  // ---------------------------------------------------------------- panels
  function row(symbol, label, value) {
    var r = el("div", "apl-legend-row");
    r.appendChild(symbol);
    r.appendChild(el("span", null, label));
    if (value) r.appendChild(el("span", "apl-legend-pop", value));
    return r;
  }

  function legend() {
    var box = document.getElementById("apl-legend");
    box.textContent = "";
    box.appendChild(el("h2", null, current.title));
    current.rows.forEach(function (r) {
      var swatch = el("span", "apl-swatch");
      swatch.style.background = r.color;
      box.appendChild(row(swatch, r.label, r.value));
    });
    if (current.note) box.appendChild(el("p", "apl-note", current.note));
    var shown = symbols.filter(function (s) { return map.hasLayer(s.layer); });
    if (shown.length) box.appendChild(el("hr"));
    shown.forEach(function (s) { box.appendChild(s.make()); });
  }

  var title = document.getElementById("apl-title");
  title.appendChild(el("h1", null, D.title));
  if (D.scenario) title.appendChild(el("p", "apl-scenario", "Scénario : " + D.scenario));
  if (D.subtitle) title.appendChild(el("p", null, D.subtitle));
  title.appendChild(el("p", null, "Survolez une commune pour ses chiffres."));

  map.on("baselayerchange", function (e) {
    D.themes.forEach(function (theme) { if (theme.layer === e.layer) current = theme; });
    legend();
  });
  map.on("overlayadd overlayremove", legend);
  legend();
  map.fitBounds(D.bounds);

  // For scripts and tests: the map and its layers.
  window.aplMap = {
    map: map, tiles: tiles, overlays: overlays,
    themes: D.themes.map(function (t) { return t.layer; })
  };
})();
