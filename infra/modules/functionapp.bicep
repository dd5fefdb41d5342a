// The Flex Consumption (FC1) function app on Linux, Python 3.11, running as the user-assigned identity.
param name string
param planName string
param location string
param tags object
@description('Tags of the site itself (azd finds the app to deploy to by its azd-service-name tag).')
param siteTags object
param storageAccountName string
param deploymentContainerName string
param identityId string
param identityClientId string
param applicationInsightsName string
@description('The BGOPS_* settings of the app (main.bicep holds them with their defaults).')
param bgopsSettings object
@description('Entra ID app registration (client id) for App Service Authentication; empty leaves it off.')
param entraClientId string = ''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: siteTags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: 2048
        maximumInstanceCount: 40
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }

  // Identity-based connections only: no account key or connection string anywhere.
  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(bgopsSettings, {
      AzureWebJobsStorage__accountName: storage.name
      // Explicit endpoints, so the app also works outside the public cloud (the host derives its own).
      AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
      AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
      AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      // Traces, metrics and logs as OpenTelemetry (host.json telemetryMode), to Application Insights with the
      // managed identity: the host's spans, and the app's through the Azure Monitor distro (shared/telemetry).
      // PYTHON_ENABLE_OPENTELEMETRY: the worker streams the app's logs itself (the host drops its copies).
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
      PYTHON_ENABLE_OPENTELEMETRY: 'true'
      OTEL_TRACES_SAMPLER: 'parentbased_always_on'
    })
  }
}

// App Service Authentication (Easy Auth), only with an app registration: every request needs an Entra ID
// token (401 without one), /api/health stays open for probes, and the platform passes the caller on
// as X-MS-CLIENT-PRINCIPAL*, which the app then records as runas (WEBSITE_AUTH_ENABLED is set by it).
resource authentication 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(entraClientId)) {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [ '/api/health' ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: { allowedAudiences: [ 'api://${entraClientId}', entraClientId ] }
      }
    }
    login: { tokenStore: { enabled: false } }
  }
}

output name string = functionApp.name
output url string = 'https://${functionApp.properties.defaultHostName}'
