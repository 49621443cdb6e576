import type { Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { AuthConfig } from './auth-env';
import { Authenticator } from './authenticator';
import { HTTP_INTAKE_OPTIONS, HttpIntake, type HttpIntakeOptions } from './http-intake';
import { ScopeGuard } from './scope.guard';
import { SecurityLog } from './security-log';
import { ServerErrorsFilter } from './server-errors.filter';

/**
 * The providers of a service's HTTP front door: the authenticator built from `config`, the intake
 * (credential, then bounded body), the security log, the global scope guard and the 5xx filter.
 */
export function frontDoorProviders(config: AuthConfig, intake: HttpIntakeOptions): Provider[] {
  return [
    { provide: Authenticator, useValue: new Authenticator(config) },
    { provide: HTTP_INTAKE_OPTIONS, useValue: intake },
    SecurityLog,
    HttpIntake,
    { provide: APP_GUARD, useClass: ScopeGuard },
    { provide: APP_FILTER, useClass: ServerErrorsFilter },
  ];
}
