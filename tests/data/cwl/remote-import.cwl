cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 1.0.0
$graph:
  - class: Workflow
    id: clip
    label: Clip
    doc: Clips a staged scene to an area of interest
    requirements:
      SchemaDefRequirement:
        types:
          - $import: https://raw.githubusercontent.com/eoap/schemas/main/ogc.yaml
    inputs:
      scene:
        type: Directory
        label: scene
        doc: staged STAC catalog
      aoi:
        type: https://raw.githubusercontent.com/eoap/schemas/main/ogc.yaml#BBox
        label: area of interest
        doc: bounding box
    outputs:
      results:
        type: Directory
        outputSource: clip/results
    steps:
      clip:
        run: '#clip-tool'
        in: {scene: scene, aoi: aoi}
        out: [results]
  - class: CommandLineTool
    id: clip-tool
    requirements:
      DockerRequirement: {dockerPull: "example/clip:1.0"}
      ResourceRequirement: {coresMin: 1, coresMax: 1, ramMin: 512, ramMax: 1024}
    baseCommand: clip
    inputs:
      scene: {type: Directory, inputBinding: {prefix: --scene}}
      aoi: {type: Any, inputBinding: {prefix: --aoi}}
    outputs:
      results: {type: Directory, outputBinding: {glob: .}}
