// One three.js scene for the Meshes view: a mesh (or a point cloud, without faces) with its
// logged vertex colours, an orbit camera (drag to turn, wheel to zoom, right-drag to pan),
// drawn on demand (no animation loop: software GL stays idle).
//
// Colours are the logged bytes: the colour attribute is normalised uint8 and the renderer
// writes linear output with no sRGB conversion, so an unlit face shows exactly what was logged.

import * as THREE from "../../vendor/three/three.module.min.js";
import { OrbitControls } from "../../vendor/three/OrbitControls.js";

const PLAIN_COLOR = 0x8fa3bf;

export class MeshScene {
  /** Throws when the browser cannot give a WebGL context. */
  constructor(container) {
    this.container = container;
    this.renderer = new THREE.WebGLRenderer({ antialias: true, alpha: true, preserveDrawingBuffer: true });
    this.renderer.outputColorSpace = THREE.LinearSRGBColorSpace;
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setClearColor(0x000000, 0);
    this.canvas = this.renderer.domElement;
    this.canvas.dataset.testid = "mesh-canvas";
    container.append(this.canvas);
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.01, 1000);
    this.scene.add(this.camera);
    this.ambient = new THREE.AmbientLight(0xffffff, 0.55);
    this.sun = new THREE.DirectionalLight(0xffffff, 1.6);
    this.sun.position.set(1, 2, 3);
    this.camera.add(this.sun);
    this.scene.add(this.ambient);
    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.addEventListener("change", () => this.render());
    this.object = null;
    this.edges = null;
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(container);
    this.resize();
  }

  /**
   * Shows batch element `b` of a decoded mesh ({header, arrays}); options {shaded, wireframe,
   * pointSize}. Keeps the camera when `keepCamera` (moving the step slider).
   */
  show(mesh, b, options, keepCamera) {
    this.clear();
    const { header, arrays } = mesh;
    const n = header.vertex_count;
    const positions = arrays.vertices.data.subarray(b * n * 3, (b + 1) * n * 3);
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.BufferAttribute(positions, 3));
    const colored = Boolean(arrays.colors);
    if (colored) {
      const colors = arrays.colors.data.subarray(b * n * 3, (b + 1) * n * 3);
      geometry.setAttribute("color", new THREE.BufferAttribute(colors, 3, true));
    }
    const config = header.config || {};
    const materialConfig = config.material || {};
    const f = header.face_count;
    if (arrays.faces && f > 0 && materialConfig.cls !== "PointsMaterial") {
      geometry.setIndex(new THREE.BufferAttribute(arrays.faces.data.subarray(b * f * 3, (b + 1) * f * 3), 1));
      geometry.computeVertexNormals();
      const common = { vertexColors: colored, side: THREE.DoubleSide, color: colored ? 0xffffff : PLAIN_COLOR };
      const material = options.shaded
        ? new THREE.MeshLambertMaterial(common)
        : new THREE.MeshBasicMaterial(common);
      this.object = new THREE.Mesh(geometry, material);
      if (options.wireframe) {
        this.edges = new THREE.LineSegments(
          new THREE.WireframeGeometry(geometry),
          new THREE.LineBasicMaterial({ color: 0x000000, transparent: true, opacity: 0.35 }),
        );
        this.scene.add(this.edges);
      }
    } else {
      geometry.computeBoundingSphere();
      const radius = geometry.boundingSphere ? geometry.boundingSphere.radius : 1;
      const size = materialConfig.size || options.pointSize || Math.max(radius / 60, 1e-6);
      this.object = new THREE.Points(geometry, new THREE.PointsMaterial({
        size, vertexColors: colored, color: colored ? 0xffffff : PLAIN_COLOR, sizeAttenuation: true,
      }));
    }
    this.scene.add(this.object);
    const camera = config.camera || {};
    if (typeof camera.fov === "number") this.camera.fov = camera.fov;
    if (!keepCamera) this.fit(geometry);
    this.render();
  }

  /** Points the camera at the whole object from a three-quarter view. */
  fit(geometry) {
    const target = geometry || (this.object && this.object.geometry);
    if (!target) return;
    target.computeBoundingSphere();
    const sphere = target.boundingSphere;
    const r = sphere && Number.isFinite(sphere.radius) && sphere.radius > 0 ? sphere.radius : 1;
    const center = sphere ? sphere.center : new THREE.Vector3();
    const fov = (this.camera.fov * Math.PI) / 180;
    const distance = (r / Math.sin(fov / 2)) * 1.1;
    const direction = new THREE.Vector3(1.1, 0.8, 1.4).normalize();
    this.camera.position.copy(center).addScaledVector(direction, distance);
    this.camera.near = distance / 100;
    this.camera.far = distance * 100;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(center);
    this.controls.update();
    this.render();
  }

  resize() {
    const w = Math.max(1, this.container.clientWidth);
    const h = Math.max(1, this.container.clientHeight);
    this.renderer.setSize(w, h, true);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  render() {
    this.renderer.render(this.scene, this.camera);
  }

  /** The WebGL error flag after the last draw (0: none). */
  glError() {
    return this.renderer.getContext().getError();
  }

  /** The face under page point (x, y): {face, vertices: [a, b, c], barycoord: [u, v, w]} or null. */
  pick(x, y) {
    if (!this.object || !this.object.isMesh) return null;
    const rect = this.canvas.getBoundingClientRect();
    const ndc = new THREE.Vector2(((x - rect.left) / rect.width) * 2 - 1, -((y - rect.top) / rect.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(ndc, this.camera);
    const hit = ray.intersectObject(this.object, false)[0];
    if (!hit || !hit.face) return null;
    const bary = hit.barycoord ? [hit.barycoord.x, hit.barycoord.y, hit.barycoord.z] : null;
    return { face: hit.faceIndex, vertices: [hit.face.a, hit.face.b, hit.face.c], barycoord: bary };
  }

  /** Page coordinates of vertex i. */
  project(i) {
    const p = new THREE.Vector3().fromBufferAttribute(this.object.geometry.attributes.position, i);
    p.project(this.camera);
    const rect = this.canvas.getBoundingClientRect();
    return [rect.left + ((p.x + 1) / 2) * rect.width, rect.top + ((1 - p.y) / 2) * rect.height];
  }

  clear() {
    for (const thing of [this.object, this.edges]) {
      if (!thing) continue;
      this.scene.remove(thing);
      thing.geometry.dispose();
      thing.material.dispose();
    }
    this.object = null;
    this.edges = null;
  }

  dispose() {
    this.resizer.disconnect();
    this.clear();
    this.controls.dispose();
    this.renderer.dispose();
    this.canvas.remove();
  }
}
