// Log Analytics and Application Insights (local auth off: the app sends telemetry with its identity).
param workspaceName string
param applicationInsightsName string
param location string
param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

// The operator's answers (docs/observability.md): one operation's story, failures, waits, callbacks that never
// arrived, the oldest waiting operation. Its queries are the document's (a test compares them).
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, applicationInsightsName, 'bgops-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Background operations'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string(loadJsonContent('../workbook.json'))
  }
}

output applicationInsightsName string = applicationInsights.name
