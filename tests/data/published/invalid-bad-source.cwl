cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.0.1
$graph:
  - class: Workflow
    id: broken-link
    label: Broken link
    doc: A step reads an input the workflow does not declare (cwltool refuses it)
    inputs:
      scene:
        label: scene
        doc: staged scene
        type: Directory
    outputs:
      - id: out
        type: Directory
        outputSource: step/out
    steps:
      step:
        run: "#tool"
        in:
          scene: scenes
        out: [out]
  - class: CommandLineTool
    id: tool
    baseCommand: echo
    hints:
      DockerRequirement:
        dockerPull: docker.io/library/alpine:3.20
    inputs:
      scene:
        type: Directory
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
