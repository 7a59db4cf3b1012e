cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.1.0
s:author:
  - class: s:Person
    s:name: Hal Sub
$graph:
  - class: Workflow
    id: change-detection
    label: Change detection
    doc: Change between two scenes after calibration
    requirements:
      SubworkflowFeatureRequirement: {}
    inputs:
      before:
        label: before
        doc: staged scene before the event
        type: Directory
      after:
        label: after
        doc: staged scene after the event
        type: Directory
    outputs:
      - id: change
        type: Directory
        outputSource: diff/out
    steps:
      pre_before:
        run: "#preprocess"
        in: {scene: before}
        out: [calibrated]
      pre_after:
        run: "#preprocess"
        in: {scene: after}
        out: [calibrated]
      diff:
        run: "#diff-tool"
        in:
          before: pre_before/calibrated
          after: pre_after/calibrated
        out: [out]
  - class: Workflow
    id: preprocess
    label: Preprocess
    doc: "Sub-workflow that calibrates one scene (listed second, not the entry point)"
    inputs:
      scene:
        type: Directory
    outputs:
      - id: calibrated
        type: Directory
        outputSource: calibrate/out
    steps:
      calibrate:
        run: "#calibrate-tool"
        in:
          scene: scene
        out: [out]
  - class: CommandLineTool
    id: calibrate-tool
    baseCommand: calibrate
    hints:
      DockerRequirement:
        dockerPull: docker.io/example/change:0.1.0
    inputs:
      scene:
        type: Directory
        inputBinding: {prefix: --scene}
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
  - class: CommandLineTool
    id: diff-tool
    baseCommand: diff-scenes
    hints:
      DockerRequirement:
        dockerPull: docker.io/example/change:0.1.0
    inputs:
      before:
        type: Directory
        inputBinding: {prefix: --before}
      after:
        type: Directory
        inputBinding: {prefix: --after}
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
