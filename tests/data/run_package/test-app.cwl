cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.1.0
$graph:
  - class: Workflow
    id: test-app
    label: Test application for eopde run
    doc: Reads the staged STAC catalog, writes one result item per input item.
    requirements:
      StepInputExpressionRequirement: {}
    inputs:
      items:
        type: Directory
        label: Input items
        doc: Staged STAC catalog of the input scenes
      factor:
        type: float
        label: Factor
        doc: Scale factor applied to nothing in particular
      label:
        type: string
        label: Label
        doc: A free text label
      count:
        type: int
        label: Count
        doc: How many things
        default: 3
      flag:
        type: boolean
        label: Flag
        doc: A switch
        default: false
      mode:
        type:
          type: enum
          symbols: [fast, exact]
        label: Mode
        doc: Processing mode
        default: fast
      bands:
        type: string[]
        label: Bands
        doc: Bands to read
        default: [B04, B08]
      threshold:
        type: float?
        label: Threshold
        doc: Optional threshold
      fail:
        type: boolean
        label: Fail
        doc: Raise an error in the notebook (to test failures)
        default: false
    outputs:
      results:
        type: Directory
        outputSource: run/results
    steps:
      run:
        run: '#app'
        in:
          items: items
          factor: factor
          label: label
          count: count
          flag: flag
          mode: mode
          bands: bands
          threshold: threshold
          fail: fail
        out: [results]
  - class: CommandLineTool
    id: app
    requirements:
      DockerRequirement:
        dockerPull: ghcr.io/eopde/test-app:0.1.0
      ResourceRequirement:
        coresMin: 1
        ramMin: 512
      InlineJavascriptRequirement: {}
    baseCommand: [papermill, /opt/eopde/app/app.ipynb, app-executed.ipynb, --log-output]
    arguments:
      - -p
      - items
      - $(inputs.items.path)
      - -p
      - factor
      - $(inputs.factor)
      - -r
      - label
      - $(inputs.label)
      - -p
      - count
      - $(inputs.count)
      - -y
      - 'flag: $(inputs.flag)'
      - -r
      - mode
      - $(inputs.mode)
      - -y
      - 'bands: $(inputs.bands)'
      - -y
      - 'threshold: $(inputs.threshold)'
      - -y
      - 'fail: $(inputs.fail)'
    inputs:
      items: Directory
      factor: float
      label: string
      count: int
      flag: boolean
      mode:
        type:
          type: enum
          symbols: [fast, exact]
      bands: string[]
      threshold: float?
      fail: boolean
    outputs:
      results:
        type: Directory
        outputBinding:
          glob: .
