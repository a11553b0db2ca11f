/**
 * A print of `layers` layers of a square, each travel with a 0.4 mm Z-hop and a retraction before it, as
 * slicers write them: the layer count is what a timelapse must find, and hops and retractions must not count.
 */
export function layeredGcode(layers: number, segments = 10): string {
  const out = ['G90', 'M83', 'G28', 'G92 E0'];
  for (let l = 1; l <= layers; l++) {
    const z = (l * 0.2).toFixed(2);
    out.push(`;LAYER_CHANGE`, `G1 Z${z} F600`);
    for (let i = 0; i < 4; i++) {
      out.push('G1 E-0.8 F2400', `G1 Z${(l * 0.2 + 0.4).toFixed(2)} F600`, `G1 X${10 + i * 20} Y10 F6000`, `G1 Z${z} F600`, 'G1 E0.8 F2400');
      for (let k = 0; k < segments; k++) out.push(`G1 X${10 + i * 20 + k} Y${10 + k} E0.05 F1500`);
    }
  }
  return out.join('\n') + '\n';
}
